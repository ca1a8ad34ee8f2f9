//! The SVID on disk for hosts whose TLS stacks load files (Python `ssl`, uvicorn, nginx): the
//! certificate chain, the private key and the trust bundle as PEM, each replaced atomically
//! (a new file in the same directory, written, synced, given its mode, then renamed over the
//! old one, and the directory synced), so a reader sees the old or the new file, never half.
//!
//! Improvements on the reference SDK (`/tmp/spiffe-certs`, fixed names in a world-writable
//! directory, the key chmod-ed after it was written): the default directory is a new private
//! one (mode 0700, created with a random name, so nothing can be planted in it first), temporary
//! files are created exclusively with their final mode (the key is never readable by others,
//! even for an instant), and a directory the library created is removed at shutdown.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::error::{Error, ErrorCode, Result};

/// The file names inside the directory (the reference's names).
pub const CERT_FILE: &str = "svid.crt";
/// The private key (PKCS#8 PEM, mode 0600).
pub const KEY_FILE: &str = "svid.key";
/// The trust bundle (the X.509 authorities of the SVID's trust domain).
pub const BUNDLE_FILE: &str = "ca.crt";

#[cfg_attr(not(feature = "spiffe"), allow(dead_code))]
/// PEM armour of DER bytes: 64-character base64 lines (RFC 7468).
pub fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = String::with_capacity(b64.len() + b64.len() / 64 + 64);
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}

fn io(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::new(
        ErrorCode::InvalidInput,
        format!("{what} {}: {e}", path.display()),
    )
}

/// The three file paths of one directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SvidFiles {
    /// The directory.
    pub dir: PathBuf,
    /// `svid.crt`: the certificate chain, leaf first.
    pub cert: PathBuf,
    /// `svid.key`: the private key (mode 0600).
    pub key: PathBuf,
    /// `ca.crt`: the trust bundle.
    pub bundle: PathBuf,
    /// The library created `dir` (and removes it at shutdown).
    pub(crate) owned: bool,
}

impl SvidFiles {
    /// Use `dir` (created with mode 0700 when missing), or, when `None`, a new private
    /// directory under the system temporary directory.
    pub fn prepare(dir: Option<&Path>) -> Result<SvidFiles> {
        let (dir, owned) = match dir {
            Some(d) => {
                let created = !d.exists();
                if created {
                    create_private_dir(d).map_err(|e| io("cannot create", d, e))?;
                }
                (d.to_path_buf(), created)
            }
            None => (new_private_dir()?, true),
        };
        Ok(SvidFiles {
            cert: dir.join(CERT_FILE),
            key: dir.join(KEY_FILE),
            bundle: dir.join(BUNDLE_FILE),
            dir,
            owned,
        })
    }

    #[cfg_attr(not(feature = "spiffe"), allow(dead_code))]
    /// Replace the three files (bundle and certificate first, the key last: a reader that
    /// reloads on the key's change sees a matching certificate).
    pub(crate) fn write(&self, cert: &str, key: &str, bundle: &str) -> Result<()> {
        write_atomic(&self.bundle, bundle.as_bytes(), 0o644)?;
        write_atomic(&self.cert, cert.as_bytes(), 0o644)?;
        write_atomic(&self.key, key.as_bytes(), 0o600)?;
        if let Ok(d) = File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    #[cfg_attr(not(feature = "spiffe"), allow(dead_code))]
    /// Remove the files, and the directory when the library created it.
    pub(crate) fn remove(&self) {
        for p in [&self.key, &self.cert, &self.bundle] {
            let _ = fs::remove_file(p);
        }
        if self.owned {
            let _ = fs::remove_dir(&self.dir);
        }
    }
}

fn create_private_dir(d: &Path) -> std::io::Result<()> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(d)
}

/// A fresh directory `authsec-svid-<random>` under the temporary directory, mode 0700.
/// `create_dir` fails on an existing name, so a planted directory or link is never used.
fn new_private_dir() -> Result<PathBuf> {
    let base = std::env::temp_dir();
    let mut last = None;
    for _ in 0..16 {
        let mut r = [0u8; 8];
        aws_lc_rs::rand::fill(&mut r)
            .map_err(|_| Error::new(ErrorCode::Internal, "no randomness for a directory name"))?;
        let name: String = r.iter().map(|b| format!("{b:02x}")).collect();
        let d = base.join(format!("authsec-svid-{name}"));
        let mut b = fs::DirBuilder::new();
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        match b.create(&d) {
            Ok(()) => return Ok(d),
            Err(e) => last = Some((d, e)),
        }
    }
    let (d, e) = last.expect("the loop ran");
    Err(io("cannot create", &d, e))
}

/// Write `data` to `path` atomically with `mode`: an exclusive temporary file next to it,
/// created with the final mode, synced, then renamed over `path`.
pub(crate) fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    let mut r = [0u8; 6];
    aws_lc_rs::rand::fill(&mut r)
        .map_err(|_| Error::new(ErrorCode::Internal, "no randomness for a file name"))?;
    let suffix: String = r.iter().map(|b| format!("{b:02x}")).collect();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{suffix}.tmp"));
    let mut o = OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let result = (|| {
        let mut f = o.open(&tmp)?;
        // The umask may have narrowed the mode; set it exactly (never wider than asked).
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(fs::Permissions::from_mode(mode))?;
        }
        f.write_all(data)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(io("cannot write", path, e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_lines() {
        let p = pem("CERTIFICATE", &[0u8; 100]);
        let lines: Vec<&str> = p.lines().collect();
        assert_eq!(lines[0], "-----BEGIN CERTIFICATE-----");
        // 100 bytes are 136 base64 characters: two full lines and 8.
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines[2].len(), 64);
        assert_eq!(lines[3].len(), 8);
        assert_eq!(lines[4], "-----END CERTIFICATE-----");
        assert_eq!(lines.len(), 5);
    }

    #[cfg(unix)]
    #[test]
    fn files_have_their_modes_and_are_replaced() {
        use std::os::unix::fs::PermissionsExt;
        let f = SvidFiles::prepare(None).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&f.dir), 0o700);
        f.write("c1", "k1", "b1").unwrap();
        assert_eq!(mode(&f.key), 0o600);
        assert_eq!(mode(&f.cert), 0o644);
        f.write("c2", "k2", "b2").unwrap();
        assert_eq!(fs::read_to_string(&f.key).unwrap(), "k2");
        assert_eq!(fs::read_to_string(&f.bundle).unwrap(), "b2");
        // Only the three files: no temporary file left behind.
        assert_eq!(fs::read_dir(&f.dir).unwrap().count(), 3);
        f.remove();
        assert!(!f.dir.exists());
        let given = std::env::temp_dir().join(format!("authsec-svid-test-{}", std::process::id()));
        let g = SvidFiles::prepare(Some(&given)).unwrap();
        assert!(g.owned);
        assert_eq!(mode(&given), 0o700);
        g.remove();
        assert!(!given.exists());
    }
}
