//! doctor (in progress)
/// a
pub struct Options { /// a
 pub config: Option<std::path::PathBuf>, /// a
 pub env_prefix: String, /// a
 pub token: Option<String>, /// a
 pub offline: bool }
/// a
pub struct Report { /// a
 pub text: String, /// a
 pub ok: bool }
/// a
pub async fn run(_o: &Options) -> Report { Report { text: String::new(), ok: false } }
