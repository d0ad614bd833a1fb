//! The real `vigil-server` binary on 127.0.0.1 (port 0), an organisation made with the ledger's
//! own functions, enrolled devices, and a client that signs requests as a device does.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, FixedOffset, Utc};
use serde_json::{Value, json};
use uuid::Uuid;
use vigil_crypto::sign::{self, DeviceKeys, OrgKeys};
use vigil_ledger::enrolment::{Certificate, DeviceRole, Invitation};
use vigil_ledger::http_sig::{self, RequestLine};
use vigil_ledger::ids::device_id_for;
use vigil_ledger::profile::OrgProfile;
use vigil_model::DeviceId;

use crate::pg::PgCluster;
use crate::s3::S3Server;

pub const SERVER: &str = env!("CARGO_BIN_EXE_vigil-server");

/// An HTTP client (reqwest with rustls on ring, the provider the server uses too).
pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

pub fn now() -> DateTime<FixedOffset> {
    Utc::now().fixed_offset()
}

/// Which database a test's server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite under `--data`.
    Sqlite,
    /// A private PostgreSQL cluster (`--database`), attachments on the local disk.
    Postgres,
    /// PostgreSQL, and attachments in a real S3-compatible server (`--blobs s3://…`).
    PostgresS3,
}

/// Where a server keeps its data: a folder, or a PostgreSQL cluster of the test's own.
#[derive(Debug)]
pub struct Store {
    pub data: PathBuf,
    pub pg: Option<PgCluster>,
    pub s3: Option<S3Server>,
}

impl Store {
    /// A store of `backend`, with its folder under `dir`.
    pub fn new(backend: Backend, dir: &Path) -> Store {
        Store {
            data: dir.join("data"),
            pg: (backend != Backend::Sqlite).then(PgCluster::start),
            s3: (backend == Backend::PostgresS3).then(S3Server::start),
        }
    }

    /// The admin command's arguments that name it.
    pub fn args(&self) -> Vec<String> {
        match &self.pg {
            Some(pg) => vec!["--database".into(), pg.url.clone()],
            None => vec!["--data".into(), self.data.display().to_string()],
        }
    }

    /// The server's arguments: the database, and with PostgreSQL the blob folder.
    pub fn server_args(&self) -> Vec<String> {
        let mut args = self.args();
        if self.s3.is_some() {
            args.extend([
                "--blobs".into(),
                format!("s3://{}/attachments", crate::s3::BUCKET),
            ]);
        } else if self.pg.is_some() {
            args.extend([
                "--blobs".into(),
                self.data.join("blobs").display().to_string(),
            ]);
        }
        args
    }

    /// The environment the server needs (the S3 server's address and keys).
    pub fn server_env(&self) -> Vec<(&'static str, String)> {
        self.s3.as_ref().map(S3Server::env).unwrap_or_default()
    }

    /// The attachment parts stored for upload `id`, as objects in the blob store.
    pub fn part_files(&self, id: &str) -> usize {
        let dir = match &self.s3 {
            Some(s3) => s3.path_of(&format!("attachments/uploads/{id}")),
            None => self.data.join("blobs").join("uploads").join(id),
        };
        std::fs::read_dir(dir)
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                    .count()
            })
            .unwrap_or(0)
    }

    /// Runs `vigil-server admin <store> args…`: (success, stdout, stderr).
    pub fn admin(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new(SERVER)
            .arg("admin")
            .args(self.args())
            .args(args)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// One value from the server's database, read directly, as text.
    pub fn text(&self, sql: &str) -> String {
        match &self.pg {
            Some(pg) => pg.text(sql),
            None => {
                let conn = rusqlite::Connection::open_with_flags(
                    self.data.join("server.sqlite3"),
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
                )
                .unwrap();
                conn.query_row(sql, [], |r| {
                    r.get::<_, rusqlite::types::Value>(0).map(|v| match v {
                        rusqlite::types::Value::Integer(i) => i.to_string(),
                        rusqlite::types::Value::Text(t) => t,
                        other => format!("{other:?}"),
                    })
                })
                .unwrap()
            }
        }
    }

    /// Rows in a table.
    pub fn count(&self, table: &str) -> i64 {
        self.text(&format!("SELECT count(*) FROM {table}"))
            .parse()
            .unwrap()
    }

    /// The folders that hold the database's files.
    pub fn files(&self) -> Vec<PathBuf> {
        let mut out = vec![];
        if self.data.exists() {
            out.push(self.data.clone());
        }
        if let Some(pg) = &self.pg {
            out.push(pg.files().to_owned());
        }
        if let Some(s3) = &self.s3 {
            out.push(s3.files().to_owned());
        }
        out
    }
}

/// A running server, stopped with SIGTERM when dropped.
#[derive(Debug)]
pub struct Server {
    pub child: Child,
    pub url: String,
    pub log: PathBuf,
    /// The client that reaches it (one that trusts its certificate, when it serves HTTPS).
    pub client: reqwest::Client,
}

impl Server {
    /// Starts the real binary on `store`, logging to `log`.
    pub fn start(store: &Store, log: &Path) -> Server {
        Server::start_with(store, log, &[])
    }

    /// [`Server::start`] with more arguments.
    pub fn start_with(store: &Store, log: &Path, extra: &[&str]) -> Server {
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let mut child = Command::new(SERVER)
            .args(["--listen", "127.0.0.1:0"])
            .args(store.server_args())
            .args(extra)
            .envs(store.server_env())
            .env("VIGIL_SERVER_LOG", "debug")
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("the first line should say where it listens: {line:?}"));
        Server {
            child,
            url: format!("http://{addr}"),
            log: log.to_owned(),
            client: http(),
        }
    }

    /// Sends SIGTERM and waits for the exit status.
    /// Its Prometheus text at `/metrics` (unsigned).
    pub async fn metrics(&self) -> String {
        self.client
            .get(format!("{}/metrics", self.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub fn stop(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// An organisation: its keys and signed profile.
pub struct Org {
    pub keys: OrgKeys,
    pub profile: OrgProfile,
}

impl Org {
    pub fn new(name: &str) -> Org {
        let keys = OrgKeys::generate(1).unwrap();
        let profile = OrgProfile::signed(Uuid::now_v7(), name, &keys, now()).unwrap();
        Org { keys, profile }
    }

    pub fn id(&self) -> Uuid {
        self.profile.org_id
    }

    /// Writes the profile into `dir` and registers it with `vigil-server admin org add`.
    pub fn register(&self, store: &Store, dir: &Path) {
        let file = dir.join(format!("{}.json", self.id()));
        std::fs::write(&file, self.profile.to_json_pretty()).unwrap();
        let (ok, out, err) = store.admin(&["org", "add", file.to_str().unwrap()]);
        assert!(ok, "org add: {out}{err}");
    }

    /// A device enrolled with this organisation's invitation.
    pub fn enrol(&self, name: &str, role: DeviceRole) -> Device {
        let invitation = Invitation::issue_for(
            &self.keys,
            self.id(),
            name,
            role,
            now() - Duration::hours(1),
            now() + Duration::days(14),
        )
        .unwrap();
        Device::with_invitation(&invitation, self.id())
    }

    /// HQ's readers' age recipient.
    pub fn recipient(&self) -> age::x25519::Recipient {
        age::x25519::Recipient::from_str(&self.profile.hq_recipients[0]).unwrap()
    }

    /// A revocation of `device`, signed by this organisation.
    pub fn revocation(&self, device: DeviceId) -> Value {
        let r = vigil_ledger::signed::Revocation::sign(
            vigil_ledger::signed::RevocationDoc::new(self.id(), device, now()),
            |m| self.keys.sign(m),
        )
        .unwrap();
        serde_json::to_value(r.to_wire()).unwrap()
    }
}

/// An enrolled device with its keys and certificate.
pub struct Device {
    pub keys: DeviceKeys,
    pub id: DeviceId,
    pub org: Uuid,
    pub cert: Certificate,
    /// The next sequence number to push.
    pub seq: u64,
}

/// A response: status and JSON body (or the text as a JSON string).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
}

/// How to sign a request (the attacks change one part).
#[derive(Debug, Clone)]
pub struct Signing {
    pub created: i64,
    pub nonce: String,
    /// Sign as this device id (`None`: the device's own).
    pub keyid: Option<DeviceId>,
    /// Sign with these keys instead of the device's.
    pub other_key: bool,
    /// Send no signature headers at all.
    pub unsigned: bool,
}

impl Default for Signing {
    fn default() -> Self {
        Signing {
            created: Utc::now().timestamp(),
            nonce: fresh_nonce(),
            keyid: None,
            other_key: false,
            unsigned: false,
        }
    }
}

impl Signing {
    /// No signature headers at all.
    pub fn unsigned() -> Signing {
        Signing {
            unsigned: true,
            ..Signing::default()
        }
    }

    /// Signed by a key that is not the device's, under the device's id.
    pub fn other_key() -> Signing {
        Signing {
            other_key: true,
            ..Signing::default()
        }
    }

    /// Signed `skew` seconds from now.
    pub fn skewed(skew: i64) -> Signing {
        Signing {
            created: Utc::now().timestamp() + skew,
            ..Signing::default()
        }
    }
}

pub fn fresh_nonce() -> String {
    Uuid::now_v7().simple().to_string()
}

impl Device {
    pub fn with_invitation(invitation: &Invitation, org: Uuid) -> Device {
        let keys = DeviceKeys::generate().unwrap();
        let id = device_id_for(&keys.public().sign_pk);
        let cert = invitation.enrol(&keys, id, now()).unwrap();
        Device {
            keys,
            id,
            org,
            cert,
            seq: 1,
        }
    }

    /// Sends a request signed as `signing` says.
    pub async fn send_with(
        &self,
        server: &Server,
        method: &str,
        path_and_query: &str,
        body: &[u8],
        signing: &Signing,
    ) -> Reply {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        let mut req = server
            .client
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{}{path_and_query}", server.url),
            )
            .header("content-type", "application/json")
            .body(body.to_vec());
        if !signing.unsigned {
            let other = DeviceKeys::generate().unwrap();
            let keys = if signing.other_key {
                &other
            } else {
                &self.keys
            };
            let h = http_sig::sign_request(
                &RequestLine {
                    method,
                    path,
                    query,
                },
                body,
                signing.keyid.unwrap_or(self.id),
                signing.created,
                &signing.nonce,
                |m| keys.sign(m),
            )
            .unwrap();
            req = req
                .header("content-digest", h.content_digest)
                .header("signature-input", h.signature_input)
                .header("signature", h.signature);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply { status, body }
    }

    /// Sends a properly signed request with extra headers.
    pub async fn send_headers(
        &self,
        server: &Server,
        method: &str,
        path: &str,
        body: &[u8],
        extra: &[(&str, String)],
    ) -> (Reply, reqwest::header::HeaderMap) {
        let h = self.sign(method, path, body);
        let mut req = server
            .client
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{}{path}", server.url),
            )
            .header("content-digest", h.content_digest)
            .header("signature-input", h.signature_input)
            .header("signature", h.signature)
            .body(body.to_vec());
        for (k, v) in extra {
            req = req.header(*k, v);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (Reply { status, body }, headers)
    }

    /// Signature headers for a request, now, with a fresh nonce.
    pub fn sign(&self, method: &str, path_and_query: &str, body: &[u8]) -> http_sig::SignedHeaders {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        http_sig::sign_request(
            &RequestLine {
                method,
                path,
                query,
            },
            body,
            self.id,
            Utc::now().timestamp(),
            &fresh_nonce(),
            |m| self.keys.sign(m),
        )
        .unwrap()
    }

    /// Starts a properly signed request over a raw connection and cuts it after `sent` bytes
    /// of the body, as a network that drops mid-upload would.
    pub async fn cut_request(
        &self,
        server: &Server,
        method: &str,
        path: &str,
        body: &[u8],
        extra: &[(&str, String)],
        sent: usize,
    ) {
        use tokio::io::AsyncWriteExt as _;
        let h = self.sign(method, path, body);
        let addr = server.url.trim_start_matches("http://");
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-length: {}\r\ncontent-digest: {}\r\nsignature-input: {}\r\nsignature: {}\r\n",
            body.len(),
            h.content_digest,
            h.signature_input,
            h.signature
        );
        for (k, v) in extra {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(&body[..sent]).await.unwrap();
        stream.flush().await.unwrap();
        drop(stream);
    }

    /// Sends a request signed properly, now, with a fresh nonce.
    pub async fn send(&self, server: &Server, method: &str, path: &str, body: &[u8]) -> Reply {
        self.send_with(server, method, path, body, &Signing::default())
            .await
    }

    /// Registers with the server (its certificate as the body).
    pub async fn register(&self, server: &Server) -> Reply {
        self.send(server, "POST", "/v1/devices", self.cert.bytes())
            .await
    }

    /// One push item: `plaintext` encrypted to HQ's readers, at sequence `seq`.
    pub fn item(&self, org: &Org, seq: u64, plaintext: &[u8]) -> Value {
        let ciphertext = age::encrypt(&org.recipient(), plaintext).unwrap();
        json!({
            "org": self.org,
            "device": self.id.as_uuid(),
            "seq": seq,
            "id": Uuid::now_v7(),
            "kind": "revision",
            "sha256": hex::encode(sign::sha256(&ciphertext)),
            "size": ciphertext.len(),
            "ciphertext": STANDARD.encode(&ciphertext),
        })
    }

    /// Pushes `items`.
    pub async fn push(&self, server: &Server, items: &[Value]) -> Reply {
        let body = serde_json::to_vec(&json!({ "items": items })).unwrap();
        self.send(server, "POST", "/v1/items", &body).await
    }
}

/// A server on a fresh store with one organisation registered, an HQ device and a monitor,
/// both registered.
pub struct World {
    pub server: Server,
    pub store: Store,
    pub dir: tempfile::TempDir,
    pub org: Org,
    pub hq: Device,
    pub monitor: Device,
}

impl World {
    pub async fn new(backend: Backend) -> World {
        World::with_server_args(backend, &[]).await
    }

    /// [`World::new`] with more arguments for the server.
    pub async fn with_server_args(backend: Backend, extra: &[&str]) -> World {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(backend, dir.path());
        let org = Org::new("Bishkek Monitoring Group");
        org.register(&store, dir.path());
        let server = Server::start_with(&store, &dir.path().join("server.log"), extra);
        let hq = org.enrol("HQ reader", DeviceRole::Hq);
        let monitor = org.enrol("Aigul's laptop", DeviceRole::Monitor);
        for d in [&hq, &monitor] {
            let r = d.register(&server).await;
            assert_eq!(r.status, 200, "{r:?}");
        }
        World {
            server,
            store,
            dir,
            org,
            hq,
            monitor,
        }
    }
}
