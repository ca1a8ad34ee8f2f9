//! `authsec-conformance <driver program> [args...]`: run every conformance vector (or the
//! `AUTHSEC_VECTOR=<id prefix>` subset) through a binding's driver program speaking the driver
//! protocol (`tests/conformance/README.md`), then the mutation check through it. The driver
//! starts in the current directory. Exits non-zero on any failure. For example, from the
//! repository root: `cargo run -p authsec-conformance -- node bindings/node/test/conformance-driver.mjs`.

use std::sync::Arc;

use authsec_conformance::driver::Driver;

fn spawn(program: &str, args: &[&str]) -> Driver {
    let dir = std::env::current_dir().expect("current directory");
    Driver::spawn(program, args, &dir).unwrap_or_else(|e| {
        eprintln!("authsec-conformance: {e}");
        std::process::exit(2)
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some((program, args)) = argv.split_first() else {
        eprintln!("usage: authsec-conformance <driver program> [args...]");
        std::process::exit(2)
    };
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let driver = Arc::new(spawn(program, &args));
    authsec_conformance::run_all_shared(driver.clone()).await;
    driver.shutdown().expect("the driver exits cleanly");
    authsec_conformance::mutation_check(spawn(program, &args)).await;
}
