//! `maestro-server`: the Maestro orchestration server.
//!
//! `maestro-server [serve]` runs it; `maestro-server config` prints the effective
//! configuration with secrets redacted.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use maestro_server::config::{Config, LogFormat};
use maestro_server::{Server, shutdown_signal};

#[derive(Parser)]
#[command(
    name = "maestro-server",
    version,
    about = "Maestro orchestration server"
)]
struct Cli {
    /// Configuration file (default: ./maestro.toml if present; env MAESTRO_CONFIG).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (default).
    Serve,
    /// Print the effective configuration (secrets redacted).
    Config,
}

fn init_logging(cfg: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&cfg.log.level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cfg.log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Pretty => builder.init(),
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let cfg = match Config::load(cli.config.as_deref(), &env) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("maestro-server: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    if let Some(Command::Config) = cli.command {
        print!("{}", cfg.redacted_toml());
        return std::process::ExitCode::SUCCESS;
    }
    init_logging(&cfg);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("maestro-server: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let server = Server::build(&cfg, &env).await?;
        server.write_server_url(&cfg.data_dir).await;
        tracing::info!(addr = %server.local_addr()?, url = %server.server_url, "maestro-server listening");
        // Machine-readable ready line for supervisors and tests.
        println!("maestro-server listening on {}", server.local_addr()?);
        server.serve(shutdown_signal()).await
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = ?e, "maestro-server failed");
            eprintln!("maestro-server: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
