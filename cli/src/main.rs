//! `authsec`: protect any MCP server (`proxy`), explain a configuration and a token's decision
//! (`doctor`), and mint development tokens (`token`). See `authsec --help` and the README.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use authsec_cli::proxy::{
    stdio::StdioUpstream, HttpUpstream, IdentityHeaders, Proxy, ProxyOptions, Upstream,
};
use authsec_cli::telemetry::LogSink;
use authsec_cli::{config_file, doctor, token};
use authsec_core::Runtime;
use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "authsec",
    version,
    about = "Protect any MCP server with authsec: OAuth bearer validation, per-tool scopes, tools/list filtering, RFC 9728 metadata."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct ConfigArgs {
    /// Configuration file: JSON, or TOML (`.toml`), with the snake_case fields of the core's
    /// Config. Without it the `AUTHSEC_*` environment is read.
    #[arg(long, short = 'c', value_name = "FILE")]
    config: Option<PathBuf>,
    /// Prefix of the configuration's environment variables.
    #[arg(long, value_name = "PREFIX", default_value = "AUTHSEC_")]
    env_prefix: String,
}

#[derive(Subcommand)]
enum Command {
    /// Serve a protected MCP endpoint in front of an HTTP MCP server or a stdio one.
    Proxy(ProxyArgs),
    /// Check the configuration and its backends; with --token, explain that token's decision.
    Doctor(DoctorArgs),
    /// Development tokens from the embedded dev issuer (never for production).
    Token(TokenArgs),
}

#[derive(Args)]
struct ProxyArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// The MCP server's Streamable HTTP endpoint, e.g. http://127.0.0.1:3000/mcp.
    #[arg(
        long,
        value_name = "URL",
        required_unless_present = "stdio",
        conflicts_with = "stdio"
    )]
    upstream: Option<String>,
    /// Run the command after `--` as a stdio MCP server (one process per session).
    #[arg(long)]
    stdio: bool,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    listen: SocketAddr,
    /// Forward the caller's Authorization header to the upstream (only for a server that
    /// validates tokens itself; the MCP spec forbids passing tokens through otherwise).
    #[arg(long)]
    forward_token: bool,
    /// Prefix of the identity headers the upstream receives (incoming ones are removed).
    #[arg(long, default_value = "x-authsec-", value_name = "PREFIX")]
    identity_header_prefix: String,
    /// Send no identity headers.
    #[arg(long)]
    no_identity_headers: bool,
    /// Also send every claim of the token, base64url JSON in <prefix>claims.
    #[arg(long)]
    forward_claims: bool,
    /// No access-log lines on stderr.
    #[arg(long)]
    no_access_log: bool,
    /// Seconds shutdown waits for requests in flight.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    shutdown_grace: f64,
    /// Request header recorded as request_id in the access log.
    #[arg(long, default_value = "x-request-id", value_name = "HEADER")]
    request_id_header: String,
    /// Seconds to wait for the upstream's answer headers (or a stdio server's answer).
    #[arg(long, default_value_t = 120.0, value_name = "SECONDS")]
    upstream_timeout: f64,
    /// Threads serving requests. 1 (the default): one event loop, no hand-over between
    /// threads (the least CPU per request); more for a proxy whose own CPU is the bottleneck;
    /// 0: one per core.
    #[arg(long, default_value_t = 1, value_name = "N")]
    threads: usize,
    /// The stdio server's command and arguments.
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

#[derive(Args)]
struct DoctorArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// A token to explain (JWT or opaque); `-` reads it from stdin. It is never printed.
    #[arg(long, value_name = "TOKEN")]
    token: Option<String>,
    /// Skip the backend reachability checks.
    #[arg(long)]
    offline: bool,
}

#[derive(Args)]
struct TokenArgs {
    #[command(subcommand)]
    command: TokenCommand,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Run the dev issuer (JWKS at /jwks) on loopback and print a token and a matching config.
    Serve(token::ServeArgs),
    /// Mint one token signed by the dev issuer's key (the issuer must be served for it to verify).
    Mint(token::MintArgs),
}

fn secs(s: f64, name: &str) -> Result<Duration, String> {
    Duration::try_from_secs_f64(s)
        .map_err(|_| format!("{name} must be a non-negative number of seconds"))
}

async fn proxy(args: ProxyArgs) -> Result<(), String> {
    let identity = IdentityHeaders {
        prefix: args.identity_header_prefix.clone(),
        enabled: !args.no_identity_headers,
        claims: args.forward_claims,
    };
    identity.validate()?;
    let (cfg, source) =
        config_file::load(args.config.config.as_deref(), Some(&args.config.env_prefix))?;
    let rt = Runtime::new(cfg).map_err(|e| format!("{source}: {}", config_file::coded(&e)))?;
    for w in rt.startup().await.map_err(|e| config_file::coded(&e))? {
        eprintln!("authsec proxy: warning: {w}");
    }
    let resource_path = resource_path(&rt.config().resource_uri);
    let timeout = secs(args.upstream_timeout, "--upstream-timeout")?;
    let mut stdio_bridge = None;
    let (upstream, what): (Arc<dyn Upstream>, String) = if args.stdio {
        if args.command.is_empty() {
            return Err("--stdio needs a command after --".into());
        }
        let what = format!("stdio server `{}`", args.command.join(" "));
        let bridge =
            Arc::new(StdioUpstream::new(args.command, timeout).env_prefix(&args.config.env_prefix));
        stdio_bridge = Some(bridge.clone());
        (Arc::new(bridge), what)
    } else {
        let url = args.upstream.unwrap_or_default();
        (
            Arc::new(HttpUpstream::new(&url, &resource_path, timeout)?),
            url,
        )
    };
    let opts = ProxyOptions {
        identity,
        forward_token: args.forward_token,
        log: if args.no_access_log {
            LogSink::Off
        } else {
            LogSink::Stderr
        },
        on_record: None,
        shutdown_grace: secs(args.shutdown_grace, "--shutdown-grace")?,
        request_id_header: args.request_id_header.to_ascii_lowercase(),
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    eprintln!(
        "authsec proxy: {} protected as {} (config from {source}), forwarding to {what}",
        format_args!("http://{addr}{resource_path}"),
        rt.config().resource_uri
    );
    println!("READY http://{addr}");
    let _ = std::io::stdout().flush();
    let proxy = Proxy::new(rt, upstream, opts);
    if let Some(b) = stdio_bridge {
        let metrics = proxy.metrics();
        b.on_session(Arc::new(move |d| metrics.session(d)));
    }
    proxy.serve(listener, authsec_cli::shutdown_signal()).await;
    eprintln!("authsec proxy: stopped");
    Ok(())
}

/// The path of the resource URI (`/` when it has none).
fn resource_path(uri: &str) -> String {
    url::Url::parse(uri).map_or_else(|_| "/".into(), |u| u.path().to_string())
}

/// The runtime a command runs on: for the proxy, `threads` (1: a current-thread runtime, every
/// connection and the upstream pool on one event loop; 0: one worker per core); one worker per
/// core for the other commands.
fn tokio_runtime(threads: Option<usize>) -> std::io::Result<tokio::runtime::Runtime> {
    match threads {
        Some(1) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        Some(n) => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            if n > 0 {
                b.worker_threads(n);
            }
            b.enable_all().build()
        }
        None => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let threads = match &cli.command {
        Command::Proxy(a) => Some(a.threads),
        _ => None,
    };
    let rt = match tokio_runtime(threads) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("authsec: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    rt.block_on(run(cli))
}

async fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Proxy(a) => proxy(a).await,
        Command::Doctor(a) => {
            let token = match a.token.as_deref() {
                Some("-") => {
                    let mut s = String::new();
                    if let Err(e) = std::io::stdin().read_line(&mut s) {
                        eprintln!("authsec doctor: cannot read the token from stdin: {e}");
                        return ExitCode::from(2);
                    }
                    Some(s.trim().to_string())
                }
                other => other.map(str::to_string),
            };
            let opts = doctor::Options {
                config: a.config.config,
                env_prefix: a.config.env_prefix,
                token,
                offline: a.offline,
            };
            let report = doctor::run(&opts).await;
            print!("{}", report.text);
            return if report.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            };
        }
        Command::Token(t) => match t.command {
            TokenCommand::Serve(a) => token::serve(a).await,
            TokenCommand::Mint(a) => token::mint(a).map(|t| println!("{t}")),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("authsec: {e}");
            ExitCode::from(2)
        }
    }
}
