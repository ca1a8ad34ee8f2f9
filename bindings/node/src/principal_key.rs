//! An allowed request's principal as a JS number instead of a new N-API external.
//!
//! A synchronous allow used to hand back a fresh `External<Arc<Principal>>` per request: an
//! N-API external is a JS object with a finalizer (a weak, GC-tracked handle, a registry entry
//! in napi-rs, two boxes), and creating one per request was a large share of what `protect()`
//! cost, most of it as garbage collection. For a repeated token the core returns the *same*
//! `Arc<Principal>` from its verified-token cache every time, so the JS layer can keep the
//! external it got the first time and reuse it.
//!
//! The allow therefore comes back as a number: the address of the principal (`Arc::as_ptr`)
//! with the two decision flags in its low bits (the allocation is at least 4-byte aligned). The
//! JS layer (`index.js`, `principalHandle`) looks the address up in its bounded map of externals;
//! on a miss it takes the principal the core just allowed with [`LastAllowed::take`], which
//! hands it over only when the address matches.
//!
//! Why a hit can never be another caller's principal: every external in the JS map owns a
//! strong reference to its `Arc`, so its allocation stays live, and no other live allocation can
//! have the same address. An address the JS map holds therefore names exactly the principal the
//! core returned. Once the map drops an external and the GC frees it, the address may be reused
//! by a new principal, but then the map no longer has it: a miss, answered by `take`. A cache
//! eviction or expiry in the core only means a new `Arc` (a new address, a miss).

use std::sync::{Arc, Mutex};

use authsec_core::Principal;

/// Bit 0 of a key: the handler's answer may have to be filtered (`Allow::filter_tools_list`).
pub(crate) const FILTER: usize = 1;
/// Bit 1 of a key: the request made a list call (`Allow::tools_list_request`), set only with
/// [`FILTER`].
pub(crate) const LIST: usize = 2;

/// Largest integer a JS number holds exactly.
const MAX_EXACT: usize = (1 << 53) - 1;

/// The address of `principal`, the identity the JS layer keys its externals by.
fn address(principal: &Arc<Principal>) -> usize {
    Arc::as_ptr(principal) as usize
}

/// The JS number for an allow of `principal` with these flags, or `None` when the address
/// cannot carry them exactly (not 4-byte aligned, or beyond 2^53: never on today's 64-bit
/// address spaces; the caller then answers with a decision object).
pub(crate) fn allow_key(principal: &Arc<Principal>, filter: bool, list: bool) -> Option<f64> {
    let addr = address(principal);
    if addr & (FILTER | LIST) != 0 || addr > MAX_EXACT {
        return None;
    }
    let flags = if filter {
        FILTER | if list { LIST } else { 0 }
    } else {
        0
    };
    Some((addr | flags) as f64)
}

/// The principal of the last allow answered with a key, until the JS layer takes it (only when
/// its map has no external for that address). Holding it is owning a strong reference: nothing
/// here can dangle.
#[derive(Default)]
pub(crate) struct LastAllowed(Mutex<Option<Arc<Principal>>>);

impl LastAllowed {
    /// Remember `principal` (replacing the previous one).
    pub(crate) fn set(&self, principal: Arc<Principal>) {
        let previous = self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .replace(principal);
        drop(previous); // after the lock is released
    }

    /// The remembered principal when `key` (flags ignored) is its address; `None` otherwise
    /// (the caller refuses: a key not from this runtime's last allow names nothing here).
    pub(crate) fn take(&self, key: f64) -> Option<Arc<Principal>> {
        if !(key.is_finite() && key >= 0.0 && key <= MAX_EXACT as f64 && key.fract() == 0.0) {
            return None;
        }
        let addr = (key as usize) & !(FILTER | LIST);
        let mut last = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match last.as_ref() {
            Some(p) if address(p) == addr => last.take(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(sub: &str) -> Arc<Principal> {
        Arc::new(Principal {
            subject: sub.to_string(),
            issuer: "https://as.example".to_string(),
            audience: Vec::new(),
            scopes: Vec::new(),
            claims: serde_json::Map::new(),
            active: true,
            spiffe_id: None,
            hierarchy: None,
        })
    }

    #[test]
    fn a_key_carries_the_address_and_the_flags() {
        let p = principal("a");
        let addr = address(&p);
        assert_eq!(addr % 4, 0);
        assert_eq!(allow_key(&p, false, false), Some(addr as f64));
        assert_eq!(
            allow_key(&p, false, true),
            Some(addr as f64),
            "no list flag without the filter"
        );
        assert_eq!(allow_key(&p, true, false), Some((addr | FILTER) as f64));
        assert_eq!(
            allow_key(&p, true, true),
            Some((addr | FILTER | LIST) as f64)
        );
    }

    #[test]
    fn take_hands_over_only_the_principal_the_key_names() {
        let last = LastAllowed::default();
        let a = principal("a");
        let b = principal("b");
        let key_a = allow_key(&a, true, true).unwrap();
        let key_b = allow_key(&b, true, false).unwrap();
        assert!(last.take(key_a).is_none(), "nothing remembered yet");
        last.set(a.clone());
        assert!(last.take(key_b).is_none(), "another principal's key");
        for bad in [f64::NAN, -4.0, 1e300, key_a + 0.5] {
            assert!(last.take(bad).is_none(), "{bad}");
        }
        let got = last.take(key_a).expect("the key of the last allow");
        assert!(Arc::ptr_eq(&got, &a));
        assert!(last.take(key_a).is_none(), "taken once");
        last.set(a.clone());
        last.set(b.clone());
        assert!(last.take(key_a).is_none(), "replaced by the next allow");
        assert_eq!(last.take(key_b).unwrap().subject, "b");
    }
}
