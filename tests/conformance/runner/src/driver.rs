//! A [`Binding`] that runs the vectors through a separate driver program (Node today, Go and
//! Python next), speaking the JSON-lines protocol of `tests/conformance/README.md` ("Driver
//! protocol") over the driver's stdin and stdout: one command per line in, one answer per line
//! out, in order. The driver only translates each command into its binding's public API; every
//! vector rule stays in this crate.
//!
//! Answers are `{"ok": true, ...}` or `{"ok": false, "error": {"code", "message"}}`. Bytes cross
//! as base64 (`body_base64`), so a driver needs no order-preserving JSON reader. The driver's
//! stderr is kept (its last few kilobytes) for the error message when it misbehaves; an answer
//! that does not arrive within [`ANSWER_TIMEOUT`] fails the run.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::{json, Value};

use crate::{Binding, Failure, Filtered, Outcome, Req, Resp, Streamed};

/// The protocol version a driver must answer `hello` with.
pub const PROTOCOL: u64 = 1;

/// How long one answer may take (a check that waits for a slow fixture endpoint included).
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(120);

/// How much of the driver's stderr is kept for error messages.
const STDERR_TAIL: usize = 4096;

struct Pipe {
    stdin: ChildStdin,
    lines: Receiver<String>,
}

/// A running driver process; commands are serialized (one in flight at a time).
struct Conn {
    pipe: Mutex<Option<Pipe>>,
    child: Mutex<Child>,
    stderr: Arc<Mutex<Vec<u8>>>,
    stderr_reader: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Conn {
    fn stderr_tail(&self) -> String {
        let buf = self.stderr.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&buf).trim().to_string()
    }

    fn broken(&self, what: String) -> Failure {
        let tail = self.stderr_tail();
        Failure {
            code: "driver_failed".into(),
            message: if tail.is_empty() {
                what
            } else {
                format!("{what}; driver stderr:\n{tail}")
            },
        }
    }

    /// Send one command, read its answer. `Ok` carries the answer object of `{"ok": true}`;
    /// `Err` the driver's `{"ok": false}` error, or a `driver_failed` failure when the driver
    /// died, timed out or wrote something that is not an answer.
    fn exchange(&self, cmd: &Value) -> Result<Value, Failure> {
        let mut guard = self
            .pipe
            .lock()
            .map_err(|_| self.broken("driver connection poisoned".into()))?;
        let pipe = guard
            .as_mut()
            .ok_or_else(|| self.broken("driver already shut down".into()))?;
        let line = format!("{cmd}\n");
        if let Err(e) = pipe
            .stdin
            .write_all(line.as_bytes())
            .and_then(|()| pipe.stdin.flush())
        {
            guard.take();
            self.kill();
            return Err(self.broken(format!("writing {}: {e}", cmd["op"])));
        }
        let answer = match pipe.lines.recv_timeout(ANSWER_TIMEOUT) {
            Ok(a) => a,
            Err(e) => {
                // A late answer would be read as the next command's: never talk to it again.
                guard.take();
                self.kill();
                return Err(self.broken(match e {
                    RecvTimeoutError::Timeout => {
                        format!("no answer to {} within {ANSWER_TIMEOUT:?}", cmd["op"])
                    }
                    RecvTimeoutError::Disconnected => {
                        format!("the driver exited during {}", cmd["op"])
                    }
                }));
            }
        };
        let v: Value = match serde_json::from_str(&answer) {
            Ok(v) => v,
            Err(e) => {
                guard.take();
                self.kill();
                return Err(self.broken(format!(
                    "answer to {} is not JSON ({e}): {answer:.200}",
                    cmd["op"]
                )));
            }
        };
        drop(guard);
        parse_answer(v).map_err(|e| match e {
            AnswerError::Refused(f) => f,
            AnswerError::Malformed(m) => self.broken(format!("answer to {}: {m}", cmd["op"])),
        })
    }

    /// Stop a driver that can no longer be trusted to stay in step, and give its last stderr
    /// output up to 10 s to arrive (for the error message).
    fn kill(&self) {
        if let Ok(mut c) = self.child.lock() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Ok(r) = self.stderr_reader.lock() {
            for _ in 0..200 {
                if r.as_ref().is_none_or(|t| t.is_finished()) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// Close stdin (the driver exits on end of input) and wait for the exit status.
    fn shutdown(&self) -> Result<(), String> {
        if let Ok(mut p) = self.pipe.lock() {
            p.take();
        }
        let mut child = self.child.lock().map_err(|_| "poisoned".to_string())?;
        for _ in 0..200 {
            match child.try_wait() {
                Ok(Some(s)) if s.success() => return Ok(()),
                Ok(Some(s)) => {
                    return Err(format!(
                        "the driver exited with {s}; stderr:\n{}",
                        self.stderr_tail()
                    ))
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                Err(e) => return Err(e.to_string()),
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        Err("the driver did not exit within 10 s of the end of its input".into())
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Ok(mut p) = self.pipe.lock() {
            p.take();
        }
        if let Ok(mut c) = self.child.lock() {
            if matches!(c.try_wait(), Ok(None)) {
                let _ = c.kill();
            }
            let _ = c.wait();
        }
    }
}

enum AnswerError {
    Refused(Failure),
    Malformed(String),
}

fn parse_answer(mut v: Value) -> Result<Value, AnswerError> {
    let malformed = |m: &str| AnswerError::Malformed(m.to_string());
    match v.get("ok") {
        Some(Value::Bool(true)) => Ok(v),
        Some(Value::Bool(false)) => {
            let e = v
                .get_mut("error")
                .map(Value::take)
                .ok_or_else(|| malformed("{\"ok\": false} without error"))?;
            match (e["code"].as_str(), e["message"].as_str()) {
                (Some(code), Some(message)) => Err(AnswerError::Refused(Failure {
                    code: code.to_string(),
                    message: message.to_string(),
                })),
                _ => Err(malformed("error needs string code and message")),
            }
        }
        _ => Err(malformed("an answer needs \"ok\": true or false")),
    }
}

fn text(f: Failure) -> String {
    format!("{}: {}", f.code, f.message)
}

fn response(v: &Value) -> Result<Resp, String> {
    let status = v["status"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .ok_or("response.status must be a number")?;
    let mut headers = Vec::new();
    for h in v["headers"]
        .as_array()
        .ok_or("response.headers must be a list")?
    {
        match h.as_array().map(Vec::as_slice) {
            Some([Value::String(k), Value::String(v)]) => headers.push((k.clone(), v.clone())),
            _ => return Err("a header must be [name, value]".into()),
        }
    }
    Ok(Resp {
        status,
        headers,
        body: body_bytes(v)?,
    })
}

fn body_bytes(v: &Value) -> Result<Vec<u8>, String> {
    let b = v["body_base64"]
        .as_str()
        .ok_or("body_base64 must be a string")?;
    B64.decode(b).map_err(|e| format!("body_base64: {e}"))
}

fn outcome(answer: Result<Value, Failure>) -> Outcome<u64> {
    let v = match answer {
        Ok(v) => v,
        Err(f) => return Outcome::Failed(text(f)),
    };
    let d = &v["decision"];
    let r = match d["kind"].as_str() {
        Some("allow") => match (d["handle"].as_u64(), d["filter_tools_list"].as_bool()) {
            (Some(handle), Some(filter_tools_list)) if d["principal"].is_object() => {
                let user_info = match d.get("user_info_base64") {
                    None | Some(Value::Null) => Ok(None),
                    Some(Value::String(b)) => B64
                        .decode(b)
                        .map(Some)
                        .map_err(|e| format!("user_info_base64: {e}")),
                    Some(_) => Err("user_info_base64 must be a string".to_string()),
                };
                user_info.map(|user_info| Outcome::Allow {
                    principal: d["principal"].clone(),
                    filter_tools_list,
                    user_info,
                    handle,
                })
            }
            _ => Err("allow needs principal, filter_tools_list and handle".to_string()),
        },
        Some("respond") => response(d).map(Outcome::Respond),
        Some("pass_through") => Ok(Outcome::PassThrough),
        _ => Err(format!("unknown decision {d}")),
    };
    r.unwrap_or_else(|e| Outcome::Failed(format!("driver answer: {e}")))
}

fn request(req: &Req) -> Value {
    let mut r = json!({
        "method": req.method,
        "path": req.path,
        "headers": req.headers.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
        "body_base64": B64.encode(&req.body),
    });
    if req.oversized {
        r["oversized"] = Value::Bool(true);
    }
    r
}

/// A driver program as a [`Binding`]. Spawn one per run with [`Driver::spawn`]; it holds one
/// runtime at a time (the runner builds one per vector and closes it at the end).
pub struct Driver {
    conn: Arc<Conn>,
    name: String,
}

/// The runtime the driver holds.
pub struct DriverRuntime {
    conn: Arc<Conn>,
}

impl Driver {
    /// Start `program args...` in `dir`, check its `hello` answer (protocol version, binding
    /// name).
    pub fn spawn(program: &str, args: &[&str], dir: &Path) -> Result<Driver, String> {
        let mut child = Command::new(program)
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {program}: {e}"))?;
        let (stdin, stdout, mut stderr) =
            match (child.stdin.take(), child.stdout.take(), child.stderr.take()) {
                (Some(i), Some(o), Some(e)) => (i, o, e),
                _ => return Err("driver pipes missing".into()),
            };
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let tail = Arc::new(Mutex::new(Vec::new()));
        let keep = tail.clone();
        let stderr_reader = std::thread::spawn(move || {
            let mut buf = [0u8; 1024];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut t) = keep.lock() {
                    t.extend_from_slice(&buf[..n]);
                    let excess = t.len().saturating_sub(STDERR_TAIL);
                    t.drain(..excess);
                }
            }
        });
        let conn = Arc::new(Conn {
            pipe: Mutex::new(Some(Pipe { stdin, lines })),
            child: Mutex::new(child),
            stderr: tail,
            stderr_reader: Mutex::new(Some(stderr_reader)),
        });
        let hello = conn
            .exchange(&json!({"op": "hello", "protocol": PROTOCOL}))
            .map_err(text)?;
        if hello["protocol"].as_u64() != Some(PROTOCOL) {
            return Err(format!(
                "the driver speaks protocol {}, the runner {PROTOCOL}",
                hello["protocol"]
            ));
        }
        let binding = hello["binding"]
            .as_str()
            .ok_or("hello answer needs a binding name")?;
        Ok(Driver {
            conn,
            name: format!("{binding} driver"),
        })
    }

    /// Send one raw command (for protocol tests): the answer of `{"ok": true}`, or the error.
    pub fn command(&self, cmd: &Value) -> Result<Value, Failure> {
        self.conn.exchange(cmd)
    }

    /// End the driver: close its input and require a clean exit (status 0).
    pub fn shutdown(&self) -> Result<(), String> {
        self.conn.shutdown()
    }

    fn blocking<T: Send + 'static>(
        conn: &Arc<Conn>,
        f: impl FnOnce(&Conn) -> T + Send + 'static,
    ) -> BoxFuture<'static, T> {
        let conn = conn.clone();
        async move {
            tokio::task::spawn_blocking(move || f(&conn))
                .await
                .expect("driver exchange thread")
        }
        .boxed()
    }
}

fn unit(answer: Result<Value, Failure>) -> Result<(), String> {
    answer.map(drop).map_err(text)
}

impl Binding for Driver {
    const NAME: &'static str = "driver";
    type Runtime = DriverRuntime;
    type Allowed = u64;

    fn name(&self) -> String {
        self.name.clone()
    }

    fn build(&self, config_json: &str) -> Result<DriverRuntime, Failure> {
        self.conn
            .exchange(&json!({"op": "create", "config": config_json}))?;
        Ok(DriverRuntime {
            conn: self.conn.clone(),
        })
    }

    fn startup(&self, rt: Arc<DriverRuntime>) -> BoxFuture<'static, Result<(), Failure>> {
        Driver::blocking(&rt.conn, |c| {
            let a = c.exchange(&json!({"op": "startup"}))?;
            match a["warnings"].is_array() {
                true => Ok(()),
                false => Err(c.broken("startup answer needs warnings (a list)".into())),
            }
        })
    }

    fn check(&self, rt: Arc<DriverRuntime>, req: Arc<Req>) -> BoxFuture<'static, Outcome<u64>> {
        let cmd = json!({"op": "check", "request": request(&req)});
        Driver::blocking(&rt.conn, move |c| outcome(c.exchange(&cmd)))
    }

    fn check_many(
        &self,
        rt: Arc<DriverRuntime>,
        req: Arc<Req>,
        n: u32,
    ) -> BoxFuture<'static, Vec<Outcome<u64>>> {
        let cmd = json!({"op": "check_many", "count": n, "request": request(&req)});
        Driver::blocking(&rt.conn, move |c| match c.exchange(&cmd) {
            Err(f) => vec![Outcome::Failed(text(f))],
            Ok(mut v) => match v.get_mut("answers").map(Value::take) {
                Some(Value::Array(answers)) => answers
                    .into_iter()
                    .map(|a| {
                        outcome(parse_answer(a).map_err(|e| match e {
                            AnswerError::Refused(f) => f,
                            AnswerError::Malformed(m) => c.broken(m),
                        }))
                    })
                    .collect(),
                _ => vec![Outcome::Failed("check_many answer needs answers".into())],
            },
        })
    }

    fn filter(
        &self,
        rt: &DriverRuntime,
        handle: &u64,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Filtered {
        let cmd = json!({"op": "filter", "handle": handle, "content_type": content_type,
                         "body_base64": B64.encode(body)});
        let v = match rt.conn.exchange(&cmd) {
            Ok(v) => v,
            Err(f) => return Filtered::Failed(text(f)),
        };
        let r = &v["result"];
        let out = match r["kind"].as_str() {
            Some("unchanged") => Ok(Filtered::Unchanged),
            Some("rewritten") => body_bytes(r).map(Filtered::Rewritten),
            Some("respond") => response(r).map(Filtered::Respond),
            _ => Err(format!("unknown filter result {r}")),
        };
        out.unwrap_or_else(|e| Filtered::Failed(format!("driver answer: {e}")))
    }

    fn filter_stream(
        &self,
        rt: &DriverRuntime,
        handle: &u64,
        content_type: Option<&str>,
        content_encoding: Option<&str>,
        chunks: &[&[u8]],
    ) -> Streamed {
        let chunks: Vec<String> = chunks.iter().map(|c| B64.encode(c)).collect();
        let cmd = json!({"op": "filter_stream", "handle": handle, "content_type": content_type,
                         "content_encoding": content_encoding, "chunks_base64": chunks});
        let v = match rt.conn.exchange(&cmd) {
            Ok(v) => v,
            Err(f) => {
                return Streamed {
                    failed: Some(text(f)),
                    ..Streamed::default()
                }
            }
        };
        let read = || -> Result<Streamed, String> {
            let forwarded = B64
                .decode(
                    v["forwarded_base64"]
                        .as_str()
                        .ok_or("forwarded_base64 must be a string")?,
                )
                .map_err(|e| format!("forwarded_base64: {e}"))?;
            let drops_content_encoding = v["drops_content_encoding"]
                .as_bool()
                .ok_or("drops_content_encoding must be a boolean")?;
            let respond = match &v["respond"] {
                Value::Null => None,
                r => Some(response(r)?),
            };
            Ok(Streamed {
                forwarded,
                drops_content_encoding,
                respond,
                failed: None,
            })
        };
        read().unwrap_or_else(|e| Streamed {
            failed: Some(format!("driver answer: {e}")),
            ..Streamed::default()
        })
    }

    fn canned(&self, which: &str) -> Result<Resp, String> {
        let v = self
            .conn
            .exchange(&json!({"op": "canned", "which": which}))
            .map_err(text)?;
        response(&v["response"])
    }

    fn metadata(&self, rt: &DriverRuntime) -> Result<Resp, String> {
        let v = rt.conn.exchange(&json!({"op": "metadata"})).map_err(text)?;
        response(&v["response"])
    }

    fn advance_clock(&self, rt: &DriverRuntime, seconds: f64) -> Result<(), String> {
        unit(
            rt.conn
                .exchange(&json!({"op": "advance_clock", "seconds": seconds})),
        )
    }

    fn wait_policy_refresh(
        &self,
        rt: Arc<DriverRuntime>,
    ) -> BoxFuture<'static, Result<(), String>> {
        Driver::blocking(&rt.conn, |c| {
            unit(c.exchange(&json!({"op": "wait_policy_refresh"})))
        })
    }

    fn events(&self, rt: &DriverRuntime) -> Result<Vec<String>, String> {
        let v = rt.conn.exchange(&json!({"op": "events"})).map_err(text)?;
        v["events"]
            .as_array()
            .ok_or("events: no events array")?
            .iter()
            .map(|l| {
                l.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("events: not a string: {l}"))
            })
            .collect()
    }

    fn close(&self, rt: Arc<DriverRuntime>) -> Result<(), String> {
        unit(rt.conn.exchange(&json!({"op": "close"})))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spawn_sh(script: &str) -> String {
        match Driver::spawn("sh", &["-c", script], Path::new(".")) {
            Ok(_) => panic!("a misbehaving driver must be refused"),
            Err(e) => e,
        }
    }

    #[test]
    fn a_driver_that_exits_fails_with_its_stderr() {
        let e = spawn_sh("echo boom >&2; exit 3");
        // Exited before the command was written, or while it waited for the answer.
        assert!(e.starts_with("driver_failed: "), "{e}");
        assert!(e.contains("\"hello\""), "{e}");
        assert!(e.ends_with("driver stderr:\nboom"), "{e}");
    }

    #[test]
    fn a_line_that_is_not_an_answer_fails() {
        let e = spawn_sh("read l; echo hello; read l");
        assert!(e.contains("answer to \"hello\" is not JSON"), "{e}");
        let e = spawn_sh("read l; echo '{\"fine\":1}'; read l");
        assert!(e.contains("an answer needs \"ok\": true or false"), "{e}");
        let e = spawn_sh("read l; echo '{\"ok\":false}'; read l");
        assert!(e.contains("without error"), "{e}");
    }

    #[test]
    fn the_protocol_version_is_checked() {
        let e = spawn_sh("read l; echo '{\"ok\":true,\"protocol\":2,\"binding\":\"x\"}'; read l");
        assert_eq!(e, "the driver speaks protocol 2, the runner 1");
    }

    #[test]
    fn a_refused_command_is_a_failure_with_its_code() {
        let hello = r#"read l; echo '{"ok":true,"protocol":1,"binding":"sh"}'; "#;
        let refuse = r#"read l; echo '{"ok":false,"error":{"code":"config_invalid","message":"issuer is required"}}'; "#;
        for (end, clean) in [("read l; exit 0", true), ("read l; exit 4", false)] {
            let script = format!("{hello}{refuse}{end}");
            let d = Driver::spawn("sh", &["-c", &script], Path::new(".")).expect("hello");
            assert_eq!(d.name(), "sh driver");
            let e = d.build("{}").err().expect("refused");
            assert_eq!(
                (e.code.as_str(), e.message.as_str()),
                ("config_invalid", "issuer is required")
            );
            match d.shutdown() {
                Ok(()) => assert!(clean, "exit 4 must be reported"),
                Err(e) => assert!(!clean && e.contains("exit status: 4"), "{e}"),
            }
        }
    }
}
