//! `maestro-server`: the Maestro orchestration server.
//!
//! `maestro-server [serve]` runs it; `maestro-server config` prints the effective
//! configuration with secrets redacted; `maestro-server migrate` applies the PostgreSQL
//! migrations; `maestro-server import-fs [--data-dir DIR]` copies a data directory into
//! PostgreSQL.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use maestro_server::config::{Config, LogFormat};
use maestro_server::{Server, import, postgres, shutdown_signal};

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
    /// Apply pending PostgreSQL migrations (`[postgres]`), then exit.
    Migrate,
    /// Copy a data directory into PostgreSQL (migrating first); idempotent upserts. The
    /// directory is not modified.
    ImportFs {
        /// Data directory to read (default: the configured `data_dir`).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
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
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Config = command {
        print!("{}", cfg.redacted_toml());
        return std::process::ExitCode::SUCCESS;
    }
    if matches!(command, Command::Migrate | Command::ImportFs { .. })
        && let Err(e) = postgres::pg_config(&cfg)
    {
        eprintln!("maestro-server: {e}");
        return std::process::ExitCode::from(2);
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
    let result = match command {
        Command::Migrate => runtime.block_on(migrate(&cfg)),
        Command::ImportFs { data_dir } => {
            let dir = data_dir.unwrap_or_else(|| cfg.data_dir.clone());
            runtime.block_on(import_fs(&cfg, &dir))
        }
        Command::Serve | Command::Config => runtime.block_on(serve(cfg, env)),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One message: the cause chain on one line (`{:#}`), never the `Debug` form,
            // which adds a backtrace whenever RUST_BACKTRACE is set.
            eprintln!("maestro-server: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `maestro-server migrate`.
async fn migrate(cfg: &Config) -> anyhow::Result<()> {
    let store = postgres::connect(cfg)?;
    let report = postgres::migrate(cfg, &store).await?;
    println!("{}", postgres::describe_migration(&report));
    Ok(())
}

/// `maestro-server import-fs`.
async fn import_fs(cfg: &Config, dir: &std::path::Path) -> anyhow::Result<()> {
    let (report, counts) = import::import_fs(cfg, dir).await?;
    println!("{}", postgres::describe_migration(&report));
    println!("imported {}:", dir.display());
    for (table, rows) in &counts.tables {
        println!("  {table}: {rows}");
    }
    Ok(())
}

/// `maestro-server [serve]`.
async fn serve(cfg: Config, env: BTreeMap<String, String>) -> anyhow::Result<()> {
    // A start-up failure (the store cannot be opened, the port is taken, …) is reported once,
    // by `main`, on stderr.
    let server = Server::build(&cfg, &env).await?;
    server.write_server_url(&cfg.data_dir).await;
    tracing::info!(addr = %server.local_addr()?, url = %server.server_url, "maestro-server listening");
    // Machine-readable ready line for supervisors and tests.
    println!("maestro-server listening on {}", server.local_addr()?);
    let served = server.serve(shutdown_signal()).await;
    // While serving, failures go to the log as well.
    if let Err(e) = &served {
        tracing::error!(error = %format_args!("{e:#}"), "maestro-server failed");
    }
    served
}
