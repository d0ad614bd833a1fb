//! `vigil-server`: serve, or administer with `vigil-server admin`.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use vigil_server::{AppState, admin};

#[derive(Debug, Parser)]
#[command(
    name = "vigil-server",
    version,
    about = "Vigil's organisation server: stores sealed, encrypted items from enrolled devices and serves them to HQ. It cannot read a report.",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// The folder for the embedded database (created 0700 if missing).
    #[arg(long, env = "VIGIL_SERVER_DATA", value_name = "DIR")]
    data: Option<PathBuf>,
    /// A PostgreSQL database instead, which several server processes may share.
    #[arg(long, env = "VIGIL_SERVER_DATABASE", value_name = "postgres://…")]
    database: Option<String>,
    /// The folder for attachments (default: DATA/blobs); every process on one database shares it.
    #[arg(long, env = "VIGIL_SERVER_BLOBS", value_name = "DIR")]
    blobs: Option<String>,
    /// Requests a second each device may make (bursts of twice as many), per server process.
    #[arg(long, default_value_t = vigil_server::metrics::DEVICE_REQUESTS_PER_SECOND, value_name = "N")]
    rate_limit: u32,
    /// Address and port to listen on (port 0 picks a free one; the first line printed says which).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR:PORT")]
    listen: String,
    /// Serve HTTPS with this certificate chain (PEM; with --tls-key). Without it the server
    /// speaks plain HTTP, for a reverse proxy that terminates TLS in front of it.
    #[arg(
        long,
        env = "VIGIL_SERVER_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(
        long,
        env = "VIGIL_SERVER_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    tls_key: Option<PathBuf>,
}

/// Where and how to listen.
struct Listen<'a> {
    addr: &'a str,
    tls: Option<(PathBuf, PathBuf)>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Register organisations and list devices.
    Admin {
        /// The server's data folder (embedded database).
        #[arg(long, env = "VIGIL_SERVER_DATA", value_name = "DIR")]
        data: Option<PathBuf>,
        /// Or the server's PostgreSQL database.
        #[arg(long, env = "VIGIL_SERVER_DATABASE", value_name = "postgres://…")]
        database: Option<String>,
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Organisations.
    Org {
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// The devices of an organisation.
    Devices {
        /// The organisation's id.
        org: String,
    },
    /// The public key that signs receipts.
    Key,
}

#[derive(Debug, Subcommand)]
enum OrgCommand {
    /// Register an organisation from its signed profile (HQ's `vigil org profile` output).
    Add {
        /// The profile file.
        profile: PathBuf,
    },
    /// List registered organisations.
    List,
}

fn main() -> ExitCode {
    // TLS (served with --tls-cert, and to an S3 endpoint) uses ring, the crypto library the
    // rest of Vigil uses.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Admin {
            data,
            database,
            command,
        }) => runtime().and_then(|rt| {
            rt.block_on(async {
                let db = vigil_server::db::Db::open(data.as_deref(), database.as_deref()).await?;
                match command {
                    AdminCommand::Org {
                        command: OrgCommand::Add { profile },
                    } => admin::org_add(&db, &profile).await,
                    AdminCommand::Org {
                        command: OrgCommand::List,
                    } => admin::org_list(&db).await,
                    AdminCommand::Devices { org } => admin::devices(&db, &org).await,
                    AdminCommand::Key => admin::key(&db).await,
                }
            })
            .map(|out| print!("{out}"))
        }),
        None => serve(
            cli.data.as_deref(),
            cli.database.as_deref(),
            cli.blobs.as_deref(),
            cli.rate_limit,
            &Listen {
                addr: &cli.listen,
                tls: cli.tls_cert.zip(cli.tls_key),
            },
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vigil-server: {e}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn serve(
    data: Option<&std::path::Path>,
    database: Option<&str>,
    blobs: Option<&str>,
    rate_limit: u32,
    listen: &Listen<'_>,
) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .json()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("VIGIL_SERVER_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .init();
    runtime()?.block_on(async move {
        let mut state = AppState::open(data, database, blobs).await?;
        state.metrics = std::sync::Arc::new(vigil_server::metrics::Metrics::new(
            rate_limit,
            rate_limit.saturating_mul(2),
        ));
        // Read before listening, so that a bad file stops the start with its own message.
        let tls = match &listen.tls {
            Some((cert, key)) => Some(vigil_server::tls::config(cert, key)?),
            None => None,
        };
        let addr = listen.addr;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("could not listen on {addr}: {e}"))?;
        let addr = listener.local_addr()?;
        let mut out = std::io::stdout();
        writeln!(out, "listening on {addr}")?;
        out.flush()?;
        tracing::info!(%addr, tls = tls.is_some(), "serving");
        match tls {
            Some(config) => {
                let listener = vigil_server::tls::TlsListener::new(listener, config)?;
                vigil_server::serve(listener, state, shutdown_signal()).await?;
            }
            None => vigil_server::serve(listener, state, shutdown_signal()).await?,
        }
        tracing::info!("stopped");
        Ok(())
    })
}

/// SIGTERM or Ctrl+C: stop taking connections and finish the requests in flight.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
