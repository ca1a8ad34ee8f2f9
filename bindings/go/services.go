package authsec

// #include "authsec.h"
import "C"

import (
	"encoding/json"
	"fmt"
	"runtime"
)

// ServiceCredentials are one external service's credentials for a signed-in user, as the
// AuthSec services API answers them (the seed's ServiceAccessSDK.get_service_credentials).
// Credentials holds secrets: String and GoString never print their values.
type ServiceCredentials struct {
	ServiceID   string         `json:"service_id"`
	ServiceName string         `json:"service_name"`
	ServiceType string         `json:"service_type"`
	AuthType    string         `json:"auth_type"`
	URL         string         `json:"url"`
	Credentials map[string]any `json:"credentials"`
	Metadata    map[string]any `json:"metadata"`
	RetrievedAt string         `json:"retrieved_at"`
}

// String names the credential fields, never their values.
func (c ServiceCredentials) String() string {
	names := make([]string, 0, len(c.Credentials))
	for k := range c.Credentials {
		names = append(names, k)
	}
	return fmt.Sprintf("ServiceCredentials{%s %s %s %s %s credentials:<redacted %v> retrieved_at:%s}",
		c.ServiceID, c.ServiceName, c.ServiceType, c.AuthType, c.URL, names, c.RetrievedAt)
}

// GoString is String, for %#v.
func (c ServiceCredentials) GoString() string { return c.String() }

type serviceCall func(*C.authsec_runtime, *C.char, C.size_t, *C.char, C.size_t, **C.authsec_text, **C.authsec_error) C.authsec_status

func (rt *Runtime) service(call serviceCall, sessionID, serviceName string) (string, error) {
	h, err := rt.acquire()
	if err != nil {
		return "", err
	}
	defer rt.mu.RUnlock()
	sp, sl := cstr(sessionID)
	np, nl := cstr(serviceName)
	var t *C.authsec_text
	var e *C.authsec_error
	st := call(h, sp, sl, np, nl, &t, &e)
	runtime.KeepAlive(sessionID)
	runtime.KeepAlive(serviceName)
	runtime.KeepAlive(rt)
	if st != C.AUTHSEC_STATUS_OK {
		return "", takeError(st, e)
	}
	return takeText(t), nil
}

func credentialsCall(h *C.authsec_runtime, s *C.char, sl C.size_t, n *C.char, nl C.size_t, t **C.authsec_text, e **C.authsec_error) C.authsec_status {
	return C.authsec_runtime_service_credentials(h, s, sl, n, nl, t, e)
}

func tokenCall(h *C.authsec_runtime, s *C.char, sl C.size_t, n *C.char, nl C.size_t, t **C.authsec_text, e **C.authsec_error) C.authsec_status {
	return C.authsec_runtime_service_token(h, s, sl, n, nl, t, e)
}

func detailsCall(h *C.authsec_runtime, s *C.char, sl C.size_t, n *C.char, nl C.size_t, t **C.authsec_text, e **C.authsec_error) C.authsec_status {
	return C.authsec_runtime_service_user_details(h, s, sl, n, nl, t, e)
}

// ServiceCredentials asks the AuthSec services API (Config.ServicesURL) for the credentials of
// serviceName for the user of sessionID. Errors: CodeServicesError (not configured, HTTP
// error, refusal, unusable answer), CodeInvalidInput (an empty argument); never a credential.
// Blocks for the call.
func (rt *Runtime) ServiceCredentials(sessionID, serviceName string) (*ServiceCredentials, error) {
	raw, err := rt.service(credentialsCall, sessionID, serviceName)
	if err != nil {
		return nil, err
	}
	var c ServiceCredentials
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		return nil, newError(CodeInternal, "the service credentials could not be read")
	}
	return &c, nil
}

// ServiceToken is the service's access token (credentials.access_token); CodeServicesError
// "No access token available for <name>" when there is none.
func (rt *Runtime) ServiceToken(sessionID, serviceName string) (string, error) {
	return rt.service(tokenCall, sessionID, serviceName)
}

// ServiceUserDetails is the user's details at the service, as the services API answers them.
func (rt *Runtime) ServiceUserDetails(sessionID, serviceName string) (map[string]any, error) {
	raw, err := rt.service(detailsCall, sessionID, serviceName)
	if err != nil {
		return nil, err
	}
	var d map[string]any
	if err := json.Unmarshal([]byte(raw), &d); err != nil {
		return nil, newError(CodeInternal, "the service user details could not be read")
	}
	return d, nil
}
