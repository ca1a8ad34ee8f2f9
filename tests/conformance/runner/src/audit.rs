//! The audit expectations of the vectors: every check emits exactly one decision event
//! (unless `no_event`), `expect.event` is a subset match on it, `events` steps match the
//! lifecycle events in order, and no event of any step ever contains a secret of the vector
//! (a token minted or given for it, a JWT's signature segment, the configured client secret).

use serde_json::{Map, Value};

/// Secrets shorter than this are not searched for as substrings (an opaque token `ok` or
/// `none` would match ordinary event text); every minted JWT and the fixture secret are longer.
pub const MIN_SECRET_LEN: usize = 8;

/// The audit lines of one vector run, sorted as they arrive.
pub struct Audit {
    secrets: Vec<String>,
    lifecycle: Vec<Value>,
}

impl Audit {
    /// `tokens`: every token of the vector; `config`: the vector's config after substitution.
    pub fn new<'a>(tokens: impl Iterator<Item = &'a String>, config: Option<&Value>) -> Audit {
        let mut secrets = Vec::new();
        for t in tokens {
            secrets.push(t.clone());
            let parts: Vec<&str> = t.split('.').collect();
            if parts.len() == 3 {
                secrets.push(parts[2].to_string());
            }
        }
        if let Some(s) = config
            .and_then(|c| c.get("introspection_client_secret"))
            .and_then(Value::as_str)
        {
            secrets.push(s.to_string());
        }
        secrets.retain(|s| s.len() >= MIN_SECRET_LEN);
        Audit {
            secrets,
            lifecycle: Vec::new(),
        }
    }

    /// Read a batch of lines: each must be one JSON object of schema version 1 ending in one
    /// newline, without a secret. Lifecycle events are kept for the next `events` step; the
    /// decision events are returned.
    pub fn take(&mut self, lines: Vec<String>) -> Result<Vec<Value>, String> {
        let mut decisions = Vec::new();
        for line in lines {
            let Some(text) = line.strip_suffix('\n') else {
                return Err(format!("audit line does not end in a newline: {line:?}"));
            };
            if text.contains('\n') || text.contains('\r') {
                return Err(format!("audit line spans lines: {line:?}"));
            }
            for s in &self.secrets {
                if text.contains(s.as_str()) {
                    return Err(format!(
                        "audit line contains a secret of the vector ({}...): {text}",
                        &s[..4]
                    ));
                }
            }
            let v: Value = serde_json::from_str(text)
                .map_err(|e| format!("audit line is not JSON ({e}): {text}"))?;
            if v.get("v") != Some(&Value::from(1)) {
                return Err(format!("audit line is not schema version 1: {text}"));
            }
            if v.get("time").and_then(Value::as_str).is_none() {
                return Err(format!("audit line has no time: {text}"));
            }
            match v.get("type").and_then(Value::as_str) {
                Some("decision") => decisions.push(v),
                Some(_) => self.lifecycle.push(v),
                None => return Err(format!("audit line has no type: {text}")),
            }
        }
        Ok(decisions)
    }

    /// The lifecycle events since the last call, which must match `want` one for one.
    pub fn check_lifecycle(&mut self, want: &[Map<String, Value>]) -> Result<(), String> {
        let got = std::mem::take(&mut self.lifecycle);
        if got.len() != want.len() {
            return Err(format!(
                "{} lifecycle events, expected {}: {}",
                got.len(),
                want.len(),
                got.iter()
                    .map(Value::to_string)
                    .collect::<Vec<_>>()
                    .join(" | ")
            ));
        }
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            subset(g, w).map_err(|e| format!("lifecycle event {i}: {e}"))?;
        }
        Ok(())
    }
}

/// The decision events of one request step: `n` of them (0 with `no_event`), each matching
/// `want` when given.
pub fn check_decisions(
    got: &[Value],
    n: usize,
    want: Option<&Map<String, Value>>,
    no_event: bool,
) -> Result<(), String> {
    let n = if no_event { 0 } else { n };
    if got.len() != n {
        return Err(format!(
            "{} decision events for {n} checks: {}",
            got.len(),
            got.iter()
                .map(Value::to_string)
                .collect::<Vec<_>>()
                .join(" | ")
        ));
    }
    if let Some(w) = want {
        for g in got {
            subset(g, w).map_err(|e| format!("event: {e}"))?;
        }
    }
    Ok(())
}

/// Listed keys equal; `null` means absent; `"$present"` means present with any value.
fn subset(got: &Value, want: &Map<String, Value>) -> Result<(), String> {
    for (k, w) in want {
        let g = got.get(k);
        let ok = match (w, g) {
            (Value::Null, None) => true,
            (Value::Null, Some(_)) => false,
            (Value::String(p), Some(_)) if p == "$present" => true,
            (w, Some(g)) => w == g,
            (_, None) => false,
        };
        if !ok {
            return Err(format!(
                "{k}: {} != {w} in {got}",
                g.map_or("absent".to_string(), Value::to_string)
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn subset_rules() {
        let got = json!({"v": 1, "reason": "no_token", "latency_us": 3});
        assert!(subset(&got, &map(json!({"reason": "no_token", "subject": null}))).is_ok());
        assert!(subset(&got, &map(json!({"latency_us": "$present"}))).is_ok());
        assert!(subset(&got, &map(json!({"reason": "token_expired"}))).is_err());
        assert!(subset(&got, &map(json!({"reason": null}))).is_err());
        assert!(subset(&got, &map(json!({"subject": "$present"}))).is_err());
    }

    #[test]
    fn secrets_and_shapes_are_refused() {
        let toks = ["aaaa.bbbb.signature-part".to_string(), "ok".to_string()];
        let cfg = json!({"introspection_client_secret": "secret-1"});
        let mut a = Audit::new(toks.iter(), Some(&cfg));
        let line =
            |s: &str| format!("{{\"v\":1,\"type\":\"decision\",\"time\":\"t\",\"x\":\"{s}\"}}\n");
        assert_eq!(a.take(vec![line("ok none")]).unwrap().len(), 1);
        assert!(a.take(vec![line("signature-part")]).is_err());
        assert!(a.take(vec![line("aaaa.bbbb.signature-part")]).is_err());
        assert!(a.take(vec![line("secret-1")]).is_err());
        assert!(a
            .take(vec!["{\"v\":1,\"type\":\"decision\",\"time\":\"t\"}".into()])
            .is_err());
        assert!(a
            .take(vec![
                "{\"v\":2,\"type\":\"decision\",\"time\":\"t\"}\n".into()
            ])
            .is_err());
        a.take(vec![
            "{\"v\":1,\"type\":\"startup\",\"time\":\"t\",\"outcome\":\"ok\"}\n".into(),
        ])
        .unwrap();
        assert!(a
            .check_lifecycle(&[map(json!({"type": "startup", "outcome": "ok"}))])
            .is_ok());
        assert!(a
            .check_lifecycle(&[map(json!({"type": "startup"}))])
            .is_err());
    }
}
