package authsec

// Workload identity (SPIFFE): the workload's X.509-SVID from the SPIFFE Workload API, kept
// current by the core (it follows the agent's update stream, writes svid.crt, svid.key (0600)
// and ca.crt atomically, counts updates, keeps the last SVID while the agent is down until it
// expires), over authsec_workload_* in include/authsec.h. This file only translates, and builds
// crypto/tls configurations that read the current SVID on every handshake.

/*
#include <stdlib.h>
#include "authsec.h"
*/
import "C"

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"runtime"
	"sync"
	"time"
)

// WorkloadOptions says where the Workload API is and where the files go.
type WorkloadOptions struct {
	// Endpoint is the Workload API socket: unix:///path, an absolute path or tcp://ip:port;
	// "" (or "env") reads SPIFFE_ENDPOINT_SOCKET. No socket at all: ErrWorkloadNotConfigured.
	Endpoint string
	// CertDir receives svid.crt, svid.key and ca.crt (created 0700 when missing); "": a new
	// private directory under the system temporary directory, removed by Shutdown.
	CertDir string
	// Timeout bounds the wait for the first SVID (0: 10 s).
	Timeout time.Duration
}

// SVID is one X.509-SVID snapshot as PEM.
type SVID struct {
	SPIFFEID       string
	CertificatePEM string
	PrivateKeyPEM  string // secret: never log it
	BundlePEM      string
	ExpiresAt      time.Time
	Version        uint64
}

// Workload is the workload's identity from the SPIFFE Workload API. Safe for concurrent use.
type Workload struct {
	mu sync.RWMutex
	h  *C.authsec_workload
	// Dir, CertFile, KeyFile and BundleFile are where the SVID is written.
	Dir, CertFile, KeyFile, BundleFile string
}

// StartWorkload connects to the Workload API, waits for the first X.509-SVID, writes the
// files, and keeps them current in the background. Errors: ErrWorkloadNotConfigured (no
// socket), ErrConfigInvalid (an unusable socket string), ErrWorkloadApiUnavailable (the agent
// did not answer, refused this workload, or sent no SVID in time).
func StartWorkload(opts WorkloadOptions) (*Workload, error) {
	ep, epLen := cstr(opts.Endpoint)
	dir, dirLen := cstr(opts.CertDir)
	ms := opts.Timeout.Milliseconds()
	if ms < 0 || ms > 1<<31 {
		return nil, newError(CodeInvalidArgument, "timeout out of range")
	}
	var h *C.authsec_workload
	var e *C.authsec_error
	st := C.authsec_workload_start(ep, epLen, dir, dirLen, C.uint32_t(ms), &h, &e)
	runtime.KeepAlive(opts)
	if st != C.AUTHSEC_STATUS_OK {
		return nil, takeError(st, e)
	}
	w := &Workload{
		h:          h,
		Dir:        goString(C.authsec_workload_dir(h)),
		CertFile:   goString(C.authsec_workload_cert_file(h)),
		KeyFile:    goString(C.authsec_workload_key_file(h)),
		BundleFile: goString(C.authsec_workload_bundle_file(h)),
	}
	runtime.SetFinalizer(w, (*Workload).Close)
	return w, nil
}

var errWorkloadClosed = newError(CodeInvalidArgument, "the workload identity is closed")

// Current is the current SVID; ErrSvidExpired once it expired without a replacement.
func (w *Workload) Current() (*SVID, error) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.h == nil {
		return nil, errWorkloadClosed
	}
	var s *C.authsec_svid
	var e *C.authsec_error
	if st := C.authsec_workload_current(w.h, &s, &e); st != C.AUTHSEC_STATUS_OK {
		return nil, takeError(st, e)
	}
	defer C.authsec_svid_free(s)
	return &SVID{
		SPIFFEID:       goString(C.authsec_svid_spiffe_id(s)),
		CertificatePEM: goString(C.authsec_svid_certificate_pem(s)),
		PrivateKeyPEM:  goString(C.authsec_svid_private_key_pem(s)),
		BundlePEM:      goString(C.authsec_svid_bundle_pem(s)),
		ExpiresAt:      time.Unix(int64(C.authsec_svid_expires_at(s)), 0),
		Version:        uint64(C.authsec_svid_version(s)),
	}, nil
}

// Version is the update counter: 1 after the first SVID, +1 per new SVID or bundle.
func (w *Workload) Version() uint64 {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return uint64(C.authsec_workload_version(w.h))
}

// Connected reports whether the update stream is connected to the agent now.
func (w *Workload) Connected() bool {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return bool(C.authsec_workload_connected(w.h))
}

// WaitUpdate blocks until the counter exceeds after (at most timeout) and returns it.
func (w *Workload) WaitUpdate(after uint64, timeout time.Duration) uint64 {
	w.mu.RLock()
	defer w.mu.RUnlock()
	ms := timeout.Milliseconds()
	if ms < 0 {
		ms = 0
	}
	if ms > 1<<31 {
		ms = 1 << 31
	}
	return uint64(C.authsec_workload_wait_update(w.h, C.uint64_t(after), C.uint32_t(ms)))
}

// FetchJWTSVID fetches a JWT-SVID of this workload for audience (an MCP server's resource URI).
func (w *Workload) FetchJWTSVID(audience string) (string, error) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.h == nil {
		return "", errWorkloadClosed
	}
	a, aLen := cstr(audience)
	var t *C.authsec_text
	var e *C.authsec_error
	st := C.authsec_workload_fetch_jwt_svid(w.h, a, aLen, &t, &e)
	runtime.KeepAlive(audience)
	if st != C.AUTHSEC_STATUS_OK {
		return "", takeError(st, e)
	}
	return takeText(t), nil
}

// Shutdown stops following updates and removes the files (and the directory the library
// created), then releases the handle. Idempotent.
func (w *Workload) Shutdown() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.h == nil {
		return nil
	}
	var e *C.authsec_error
	st := C.authsec_workload_shutdown(w.h, &e)
	C.authsec_workload_free(w.h)
	w.h = nil
	runtime.SetFinalizer(w, nil)
	if st != C.AUTHSEC_STATUS_OK {
		return takeError(st, e)
	}
	return nil
}

// Close releases the handle without removing the files (the updater stops). Idempotent.
func (w *Workload) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.h != nil {
		C.authsec_workload_free(w.h)
		w.h = nil
		runtime.SetFinalizer(w, nil)
	}
	return nil
}

func (w *Workload) keyPair() (*tls.Certificate, *x509.CertPool, error) {
	s, err := w.Current()
	if err != nil {
		return nil, nil, err
	}
	cert, err := tls.X509KeyPair([]byte(s.CertificatePEM), []byte(s.PrivateKeyPEM))
	if err != nil {
		return nil, nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(s.BundlePEM)) {
		return nil, nil, errors.New("authsec: the trust bundle holds no certificate")
	}
	return &cert, pool, nil
}

// PeerSPIFFEID is the SPIFFE ID (URI SAN) of a certificate, or "".
func PeerSPIFFEID(cert *x509.Certificate) string {
	if cert == nil {
		return ""
	}
	for _, u := range cert.URIs {
		if u.Scheme == "spiffe" {
			return u.String()
		}
	}
	return ""
}

// verifyPeer checks the peer's chain against the current bundle (read per handshake, so a
// rotated bundle applies to the next connection) and, when expected is not "", its SPIFFE ID.
func (w *Workload) verifyPeer(expected string, usage x509.ExtKeyUsage) func([][]byte, [][]*x509.Certificate) error {
	return func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 {
			return errors.New("authsec: the peer sent no certificate")
		}
		_, pool, err := w.keyPair()
		if err != nil {
			return err
		}
		leaf, err := x509.ParseCertificate(raw[0])
		if err != nil {
			return err
		}
		inter := x509.NewCertPool()
		for _, r := range raw[1:] {
			if c, err := x509.ParseCertificate(r); err == nil {
				inter.AddCert(c)
			}
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
			return err
		}
		id := PeerSPIFFEID(leaf)
		if id == "" {
			return errors.New("authsec: the peer certificate has no SPIFFE ID")
		}
		if expected != "" && id != expected {
			return errors.New("authsec: peer SPIFFE ID " + id + " is not " + expected)
		}
		return nil
	}
}

// ClientTLSConfig is an mTLS client configuration: it presents the current SVID on every
// handshake and verifies the server against the current trust bundle and, when expectedServerID
// is not "", its SPIFFE ID (host names are not checked: SPIFFE IDs are URI SANs).
func (w *Workload) ClientTLSConfig(expectedServerID string) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // replaced by VerifyPeerCertificate (bundle + SPIFFE ID)
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			c, _, err := w.keyPair()
			return c, err
		},
		VerifyPeerCertificate: w.verifyPeer(expectedServerID, x509.ExtKeyUsageServerAuth),
	}
}

// ServerTLSConfig is an mTLS server configuration: the current SVID on every handshake, a client
// certificate required and verified against the current trust bundle (and its SPIFFE ID when
// expectedClientID is not "").
func (w *Workload) ServerTLSConfig(expectedClientID string) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		ClientAuth: tls.RequireAnyClientCert, // verified by VerifyPeerCertificate
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			c, _, err := w.keyPair()
			return c, err
		},
		VerifyPeerCertificate: w.verifyPeer(expectedClientID, x509.ExtKeyUsageClientAuth),
	}
}
