//! token (in progress)
use clap::Args;
/// a
#[derive(Args)]
pub struct ServeArgs {}
/// a
#[derive(Args)]
pub struct MintArgs {}
/// a
pub async fn serve(_a: ServeArgs) -> Result<(), String> { Err("todo".into()) }
/// a
pub fn mint(_a: MintArgs) -> Result<String, String> { Err("todo".into()) }
