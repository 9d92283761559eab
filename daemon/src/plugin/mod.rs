//! The connector plugin host: loads WebAssembly components built against
//! `dunwell:connector@0.1.x` or `@0.2.x` (`plugins-sdk/wit/`) and runs them in a sandbox.
//!
//! - Contracts side by side: both worlds are generated (`bindings` for 0.2, `v0_1` for 0.1)
//!   and linked into one `Linker`; a component's `source` export names its version, which
//!   picks the world ([`Contract`]). What a 0.1 component returns is adapted to the 0.2
//!   records, the host's internal form (no paid date, no snapshots).
//! - One [`Host`] per process: one wasmtime `Engine` with epoch interruption and a ticker
//!   thread (every 10 ms).
//! - One [`Plugin`] per connector: the component compiled once and pre-instantiated.
//! - One [`Run`] per sync: a fresh `Store` with its own memory limit (`StoreLimits`), CPU
//!   budget (epoch callback reading the thread's CPU clock, `CpuClock`), wall-clock timeout
//!   (the same callback plus a tokio timeout around every call, so a guest blocked in a host
//!   call is stopped too), and an HTTP client that only reaches the operator's allowed hosts.
//!   WASI gets nothing but clocks, random and, for file connectors, one read-only directory at
//!   `/input`; stdout and stderr are discarded, environment and sockets withheld.
//!
//! **Invariant:** nothing a plugin does can end the daemon: every failure comes back as a
//! [`PluginError`] naming the plugin. A `Run` whose call failed is not used again.

pub mod aot;
pub mod http;
pub mod redact;
pub mod settings;
pub mod tape;
mod v0_1;

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, Store, StoreLimits, StoreLimitsBuilder, Trap, UpdateDeadline};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};

pub use redact::Redactor;
pub use settings::{Limits, PluginSettings};

use crate::text;

/// The newest contract, `dunwell:connector@0.2.0`. Its records are the host's internal form
/// (sync, `plugin run`): a component of an older contract is adapted to them.
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../plugins-sdk/wit/connector@0.2.0",
        world: "connector",
        imports: { default: async | trappable },
        exports: { default: async },
        additional_derives: [serde::Serialize],
    });
}

use bindings::dunwell::connector::host::{self as wit_host, HttpError, HttpRequest, HttpResponse, Level};
use bindings::dunwell::connector::types::{
    ConnectorError, CustomerPage, InvoicePage, PageRequest, PaymentPage,
};
use bindings::exports::dunwell::connector::source::Info;

/// The WIT package this host speaks, and its newest version.
pub const WIT_PACKAGE: &str = "dunwell:connector";
pub const WIT_VERSION: &str = "0.2.0";

/// A version of the contract this host speaks; a component speaks the one its `source` export
/// names (any patch of the minor: `0.x.y` matches within `0.x`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contract {
    V0_1,
    V0_2,
}

impl Contract {
    /// Every version this host loads, oldest first.
    pub const ALL: [Contract; 2] = [Contract::V0_1, Contract::V0_2];

    /// The version the host was built against (`0.2.0`).
    pub fn version(self) -> &'static str {
        match self {
            Contract::V0_1 => "0.1.0",
            Contract::V0_2 => "0.2.0",
        }
    }

    /// The contract of a version as a component names it (`0.1.0`, `0.2.3`), when this host
    /// speaks it.
    fn of(version: &str) -> Option<Contract> {
        let mut parts = version.split(['.', '-', '+']);
        match (parts.next(), parts.next()) {
            (Some("0"), Some("1")) => Some(Contract::V0_1),
            (Some("0"), Some("2")) => Some(Contract::V0_2),
            _ => None,
        }
    }
}

/// `dunwell:connector@0.1.0 and dunwell:connector@0.2.0`.
fn spoken() -> String {
    Contract::ALL.iter().map(|c| format!("{WIT_PACKAGE}@{}", c.version())).collect::<Vec<_>>().join(" and ")
}

const TICK: Duration = Duration::from_millis(10);
const MAX_LOG_BYTES: usize = 64 << 10;
/// Resources (open files, streams, HTTP bodies) a guest may hold at once: far above what a
/// connector needs, far below the process's file limit (a guest holding 20,000 open files
/// starved the daemon of descriptors).
const MAX_RESOURCES: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("plugin {plugin}: cannot read {path}: {source}")]
    Read { plugin: String, path: std::path::PathBuf, source: std::io::Error },
    #[error("plugin {plugin}: {path} is not a WebAssembly component{hint}")]
    NotAComponent { plugin: String, path: std::path::PathBuf, hint: String },
    #[error(
        "plugin {plugin} was built against {found}, but this dunwell speaks {}; rebuild it with a matching dunwell-plugin-sdk (0.2.x builds {WIT_PACKAGE}@{WIT_VERSION})", spoken()
    )]
    WrongVersion { plugin: String, found: String },
    #[error("plugin {plugin} cannot be loaded: {message}")]
    Load { plugin: String, message: String },
    #[error("plugin {plugin}: its directory {path} cannot be opened: {message}")]
    Directory { plugin: String, path: std::path::PathBuf, message: String },
    #[error("plugin {plugin} was stopped: {reason}")]
    Stopped { plugin: String, reason: String },
    #[error("plugin {plugin} failed: {message}")]
    Failed { plugin: String, message: String },
    #[error("plugin {plugin} could not pull {what}: {message}")]
    Reported {
        plugin: String,
        what: String,
        message: String,
        /// Seconds the source asked to wait (`rate-limited(some(secs))`).
        retry_after: Option<u32>,
    },
}

impl PluginError {
    pub fn plugin(&self) -> &str {
        match self {
            PluginError::Read { plugin, .. }
            | PluginError::NotAComponent { plugin, .. }
            | PluginError::WrongVersion { plugin, .. }
            | PluginError::Load { plugin, .. }
            | PluginError::Directory { plugin, .. }
            | PluginError::Stopped { plugin, .. }
            | PluginError::Failed { plugin, .. }
            | PluginError::Reported { plugin, .. } => plugin,
        }
    }

    /// The seconds the source asked to wait before the next attempt, when it rate-limited
    /// the run and said how long.
    pub fn retry_after(&self) -> Option<u32> {
        match self {
            PluginError::Reported { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// The engine all plugins share.
#[derive(Clone)]
pub struct Host {
    engine: Engine,
    linker: Arc<Linker<RunState>>,
}

impl Host {
    pub fn new() -> Result<Host, PluginError> {
        let load = |e: wasmtime::Error| PluginError::Load { plugin: "-".into(), message: format!("{e:#}") };
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        config.max_wasm_stack(1 << 20);
        config.wasm_component_model(true);
        let engine = Engine::new(&config).map_err(load)?;
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("wasm-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(TICK);
                }
            })
            .map_err(|e| PluginError::Load {
                plugin: "-".into(),
                message: format!("cannot start the epoch thread: {e}"),
            })?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(load)?;
        // Both contracts' imports: each version's `host` interface under its own name.
        bindings::Connector::add_to_linker::<RunState, HasSelf<RunState>>(&mut linker, |s| s)
            .map_err(load)?;
        v0_1::bindings::Connector::add_to_linker::<RunState, HasSelf<RunState>>(&mut linker, |s| s)
            .map_err(load)?;
        Ok(Host { engine, linker: Arc::new(linker) })
    }

    /// Compiles and pre-instantiates a plugin's component.
    pub fn load(&self, settings: PluginSettings) -> Result<Plugin, PluginError> {
        self.load_with(settings, None)
    }

    /// Like [`Host::load`], taking the component compiled ahead of time from `artifacts`
    /// when `dunwell plugin compile` made one for this engine and this exact `.wasm`.
    pub fn load_with(
        &self,
        settings: PluginSettings,
        artifacts: Option<&aot::Artifacts>,
    ) -> Result<Plugin, PluginError> {
        let bytes = std::fs::read(&settings.path).map_err(|source| PluginError::Read {
            plugin: settings.name.clone(),
            path: settings.path.clone(),
            source,
        })?;
        self.load_from(settings, &bytes, artifacts)
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn load_bytes(&self, settings: PluginSettings, bytes: &[u8]) -> Result<Plugin, PluginError> {
        self.load_from(settings, bytes, None)
    }

    fn load_from(
        &self,
        settings: PluginSettings,
        bytes: &[u8],
        artifacts: Option<&aot::Artifacts>,
    ) -> Result<Plugin, PluginError> {
        let plugin = settings.name.clone();
        // Before compiling: a missing folder is found in no time.
        if let Some(dir) = &settings.directory {
            if !dir.is_dir() {
                return Err(PluginError::Directory {
                    plugin,
                    path: dir.clone(),
                    message: "not a folder".into(),
                });
            }
        }
        match bytes.get(..8) {
            Some([0, b'a', b's', b'm', 0x0d, 0, 1, 0]) => {}
            Some([0, b'a', b's', b'm', 1, 0, 0, 0]) => {
                return Err(PluginError::NotAComponent {
                    plugin,
                    path: settings.path,
                    hint: " but a core module; build it with `cargo build --release --target wasm32-wasip2`"
                        .into(),
                })
            }
            _ => return Err(PluginError::NotAComponent { plugin, path: settings.path, hint: String::new() }),
        }
        let compiled = artifacts.and_then(|a| a.component(&self.engine, bytes));
        let ahead = compiled.is_some();
        let component = match compiled {
            Some(c) => c,
            None => Component::new(&self.engine, bytes)
                .map_err(|e| PluginError::Load { plugin: plugin.clone(), message: format!("{e:#}") })?,
        };
        // Which contract it speaks; one built against another version: say so plainly.
        let ty = component.component_type();
        let exports: Vec<&str> = ty.exports(&self.engine).map(|(n, _)| n).collect();
        let imports = ty.imports(&self.engine).map(|(n, _)| n);
        if let Some(found) = exports.iter().copied().chain(imports).find_map(foreign_version) {
            return Err(PluginError::WrongVersion { plugin, found });
        }
        let Some((contract, version)) = exports.iter().find_map(|n| source_version(n)) else {
            return Err(PluginError::Load {
                plugin,
                message: format!(
                    "the component exports no `{WIT_PACKAGE}/source` interface: it is not a dunwell connector (build it with dunwell-plugin-sdk)"
                ),
            });
        };
        let failed =
            |e: wasmtime::Error| PluginError::Load { plugin: plugin.clone(), message: format!("{e:#}") };
        let instance = self.linker.instantiate_pre(&component).map_err(failed)?;
        let pre = match contract {
            Contract::V0_1 => v0_1::bindings::ConnectorPre::new(instance).map(Pre::V0_1),
            Contract::V0_2 => bindings::ConnectorPre::new(instance).map(Pre::V0_2),
        }
        .map_err(failed)?;
        if let (false, Some(a)) = (ahead, artifacts) {
            a.keep(&self.engine, bytes, &component, &plugin);
        }
        let redactor = Arc::new(Redactor::new(settings.secrets.values()));
        Ok(Plugin {
            settings: Arc::new(settings),
            redactor,
            pre,
            contract: format!("{WIT_PACKAGE}@{version}"),
            engine: self.engine.clone(),
            compiled_ahead: ahead,
            tape: None,
        })
    }
}

/// The version in `dunwell:connector/<interface>@<version>`, when it is a version's text.
fn wit_version(name: &str) -> Option<&str> {
    let rest = name.strip_prefix(WIT_PACKAGE)?.strip_prefix('/')?;
    let (_, version) = rest.split_once('@')?;
    // Shown to the operator: a version's characters only (wasmtime checked it is semver).
    let plain = !version.is_empty()
        && version.len() <= 64
        && version.chars().all(|c| c.is_ascii_alphanumeric() || ".-+".contains(c));
    Some(if plain { version } else { "(an unreadable version)" })
}

/// `dunwell:connector/source@2.0.0`, a version this host does not speak → that version.
fn foreign_version(name: &str) -> Option<String> {
    let version = wit_version(name)?;
    Contract::of(version).is_none().then(|| format!("{WIT_PACKAGE}@{version}"))
}

/// `dunwell:connector/source@0.2.0` → the contract and the version the component names.
fn source_version(name: &str) -> Option<(Contract, String)> {
    name.strip_prefix(WIT_PACKAGE)?.strip_prefix("/source@")?;
    let version = wit_version(name)?;
    Some((Contract::of(version)?, version.to_string()))
}

/// A component pre-instantiated in the world of its contract.
#[derive(Clone)]
enum Pre {
    V0_1(v0_1::bindings::ConnectorPre<RunState>),
    V0_2(bindings::ConnectorPre<RunState>),
}

/// An instance of a component, in the world of its contract.
enum Instance {
    V0_1(v0_1::bindings::Connector),
    V0_2(bindings::Connector),
}

/// A loaded plugin, ready to run.
#[derive(Clone)]
pub struct Plugin {
    settings: Arc<PluginSettings>,
    redactor: Arc<Redactor>,
    pre: Pre,
    /// The contract the component speaks, as it names it (`dunwell:connector@0.2.0`).
    contract: String,
    engine: Engine,
    /// Loaded from an artefact compiled ahead of time (not compiled now).
    pub compiled_ahead: bool,
    /// `plugin run --record/--replay`: the HTTP exchanges are written to or answered from it.
    tape: Option<Arc<tape::Tape>>,
}

/// Why a run was stopped by the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Cpu,
    Timeout,
}

/// The guest's CPU time in a run: what the thread running it spent while the guest ran, less
/// its HTTP calls (the host's work, and mostly waiting). Read from the thread's CPU clock, not
/// the wall clock: a guest that shares its core with other work still gets its whole budget,
/// and one that waits does not use it up. A run's calls each run on the thread that makes
/// them (`block_on` of the run's current-thread runtime), so the clock is read on that thread
/// at each resume and pause.
#[derive(Debug, Default)]
struct CpuClock {
    /// Guest CPU time of the spans already ended.
    spent: Duration,
    /// The thread's CPU clock when the running span began; `None` while the guest is not running.
    since: Option<Duration>,
}

impl CpuClock {
    fn thread_cpu() -> Duration {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
        Duration::new(u64::try_from(t.tv_sec).unwrap_or(0), u32::try_from(t.tv_nsec).unwrap_or(0))
    }

    fn resume(&mut self) {
        self.since = Some(Self::thread_cpu());
    }

    fn pause(&mut self) {
        if let Some(since) = self.since.take() {
            self.spent += Self::thread_cpu().saturating_sub(since);
        }
    }

    fn spent(&self) -> Duration {
        self.spent + self.since.map_or(Duration::ZERO, |since| Self::thread_cpu().saturating_sub(since))
    }
}

/// What a store carries for one run.
pub struct RunState {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
    settings: Arc<PluginSettings>,
    redactor: Arc<Redactor>,
    http: http::Client,
    tape: Option<Arc<tape::Tape>>,
    started: Instant,
    cpu: CpuClock,
    stop: Option<Stop>,
    requests: u32,
    /// A request was refused because the run's `max_requests` were used up: what failed
    /// after that failed for want of budget, not because of the source.
    out_of_requests: bool,
    log_bytes: usize,
}

impl WasiView for RunState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl RunState {
    /// Plugin text as it may leave the run: secrets masked, capped, controls escaped.
    fn redact(&self, text: &str) -> String {
        text::plugin_text(&self.redactor.apply(text))
    }

    fn remaining(&self) -> Duration {
        self.settings.limits.timeout.saturating_sub(self.started.elapsed())
    }
}

impl bindings::dunwell::connector::types::Host for RunState {}

impl wit_host::Host for RunState {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        if self.log_bytes >= MAX_LOG_BYTES {
            return Ok(());
        }
        // One line, capped, secrets masked: a plugin must not forge another plugin's lines.
        let message = self.redact(&message);
        self.log_bytes += message.len();
        let plugin = self.settings.name.as_str();
        match level {
            Level::Trace => tracing::trace!(plugin, "{message}"),
            Level::Debug => tracing::debug!(plugin, "{message}"),
            Level::Info => tracing::info!(plugin, "{message}"),
            Level::Warn => tracing::warn!(plugin, "{message}"),
            Level::Error => tracing::error!(plugin, "{message}"),
        }
        if self.log_bytes >= MAX_LOG_BYTES {
            tracing::warn!(
                plugin,
                "log limit of {MAX_LOG_BYTES} bytes reached; further lines of this run dropped"
            );
        }
        Ok(())
    }

    async fn config(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        Ok(self.settings.config.get(&key).cloned())
    }

    async fn secret(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        Ok(self.settings.secrets.get(&key).cloned())
    }

    async fn send(&mut self, request: HttpRequest) -> wasmtime::Result<Result<HttpResponse, HttpError>> {
        self.cpu.pause();
        let budget = self.remaining();
        let max = self.settings.limits.max_requests;
        let plugin = self.settings.name.clone();
        let url = request.url.clone();
        // reqwest is async: the request runs on this run's runtime, bounded by the run's
        // remaining time.
        let requests = &mut self.requests;
        let out_of_requests = &mut self.out_of_requests;
        let mut count = || {
            if *requests >= max {
                *out_of_requests = true;
                return Err(http::HttpFailure::RequestLimit(max));
            }
            *requests += 1;
            Ok(())
        };
        // A replay answers from the recording, within the same allow-list and limit.
        let policy = self.http.policy();
        let replayed = self.tape.as_ref().and_then(|tape| {
            tape.answer(&request.method, &request.url, &self.redactor, || {
                policy.check(&request.url).and_then(|_| count())
            })
        });
        let result = match replayed {
            Some(r) => r,
            None => {
                self.http
                    .send(
                        &request.method,
                        &request.url,
                        &request.headers,
                        request.body.as_deref(),
                        budget,
                        count,
                    )
                    .await
            }
        };
        if let (Some(tape), Ok(answer)) = (&self.tape, &result) {
            let kept = tape.keep(
                &request.method,
                &request.url,
                &request.headers,
                request.body.as_deref(),
                answer,
                &self.redactor,
            );
            if let Err(e) = kept {
                tracing::warn!(plugin, "{e}");
            }
        }
        self.cpu.resume();
        let shown = self.redact(&url);
        Ok(match result {
            Ok(a) => {
                tracing::debug!(plugin, "HTTP {shown} -> {} ({} bytes)", a.status, a.body.len());
                Ok(HttpResponse { status: a.status, headers: a.headers, body: a.body })
            }
            Err(f) => {
                let why = self.redact(&format!("{f:?}"));
                // The guest gets the failure: it reports it (then the run's error says it) or
                // copes with it (a retry); said once, by whoever reports the run.
                tracing::debug!(plugin, "HTTP request to {shown} refused or failed: {why}");
                Err(match f {
                    http::HttpFailure::Denied(m) => HttpError::Denied(m),
                    http::HttpFailure::Timeout => HttpError::Timeout,
                    http::HttpFailure::TooLarge(n) => HttpError::TooLarge(n),
                    http::HttpFailure::RequestLimit(n) => HttpError::RequestLimit(n),
                    http::HttpFailure::Transport(m) => HttpError::Transport(m),
                })
            }
        })
    }
}

impl Plugin {
    pub fn name(&self) -> &str {
        &self.settings.name
    }

    pub fn settings(&self) -> &PluginSettings {
        &self.settings
    }

    /// Records the runs' HTTP exchanges into a tape, or answers them from one.
    pub fn set_tape(&mut self, tape: Option<Arc<tape::Tape>>) {
        self.tape = tape;
    }

    /// Masks this plugin's secrets in text that leaves a run (see [`redact`]).
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// The contract the component speaks, as its exports name it: `dunwell:connector@0.2.0`.
    pub fn contract(&self) -> &str {
        &self.contract
    }

    /// Starts a run: a fresh store and instance, with this plugin's limits.
    pub fn start(&self) -> Result<Run, PluginError> {
        let s = &self.settings;
        let mut wasi = WasiCtx::builder();
        // Each run has its own single-threaded runtime, so file reads may block it directly
        // instead of hopping to tokio's blocking pool per call (10x faster for file connectors).
        wasi.allow_blocking_current_thread(true);
        if let Some(dir) = &s.directory {
            wasi.preopened_dir(dir, "/input", FsPerms::ReadOnly).map_err(|e| PluginError::Directory {
                plugin: s.name.clone(),
                path: dir.clone(),
                message: format!("{e:#}"),
            })?;
        }
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_RESOURCES);
        let state = RunState {
            wasi: wasi.build(),
            table,
            limits: StoreLimitsBuilder::new()
                .memory_size(s.limits.memory_bytes)
                .table_elements(100_000)
                .instances(64)
                .tables(64)
                .memories(8)
                .trap_on_grow_failure(true)
                .build(),
            settings: self.settings.clone(),
            redactor: self.redactor.clone(),
            http: http::Client::new(http::Policy {
                allowed: s.allowed_hosts.clone(),
                max_response_bytes: s.limits.max_response_bytes,
            }),
            tape: self.tape.clone(),
            started: Instant::now(),
            cpu: CpuClock::default(),
            stop: None,
            requests: 0,
            out_of_requests: false,
            log_bytes: 0,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut ctx| {
            let s = ctx.data_mut();
            let wall = s.started.elapsed();
            if wall >= s.settings.limits.timeout {
                s.stop = Some(Stop::Timeout);
                return Ok(UpdateDeadline::Interrupt);
            }
            if s.cpu.spent() >= s.settings.limits.cpu {
                s.stop = Some(Stop::Cpu);
                return Ok(UpdateDeadline::Interrupt);
            }
            Ok(UpdateDeadline::Yield(1))
        });
        // The I/O driver serves the plugin's HTTP requests (reqwest runs on this runtime).
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().enable_io().build();
        let runtime = runtime.map_err(|e| PluginError::Failed {
            plugin: s.name.clone(),
            message: format!("cannot start a runtime: {e}"),
        })?;
        store.data_mut().cpu.resume();
        let instance = runtime.block_on(async {
            match &self.pre {
                Pre::V0_1(pre) => pre.instantiate_async(&mut store).await.map(Instance::V0_1),
                Pre::V0_2(pre) => pre.instantiate_async(&mut store).await.map(Instance::V0_2),
            }
        });
        store.data_mut().cpu.pause();
        let connector = instance.map_err(|e| stopped_or_failed(&s.name, store.data(), e))?;
        Ok(Run { store, runtime, connector, name: s.name.clone(), failed: false })
    }
}

/// One run of a plugin: a fresh instance that serves calls until one fails.
pub struct Run {
    store: Store<RunState>,
    runtime: tokio::runtime::Runtime,
    connector: Instance,
    name: String,
    failed: bool,
}

/// Calls `$method` of the component's `source` export, in the world of its contract; what a
/// 0.1 component returns goes through `v0_1::$adapt` (and its arguments through `$arg_0_1`).
macro_rules! call {
    ($self:ident, $method:ident, $adapt:ident $(, $arg:expr => $arg_0_1:expr)*) => {{
        if $self.failed {
            return Err(PluginError::Failed { plugin: $self.name.clone(), message: "an earlier call of this run failed".into() });
        }
        let timeout = $self.store.data().remaining() + Duration::from_millis(200);
        $self.store.data_mut().cpu.resume();
        let (connector, store) = (&$self.connector, &mut $self.store);
        let result = $self.runtime.block_on(async move {
            tokio::time::timeout(timeout, async move {
                match connector {
                    Instance::V0_2(c) => c.dunwell_connector_source().$method(&mut *store $(, $arg)*).await,
                    Instance::V0_1(c) => c
                        .dunwell_connector_source()
                        .$method(&mut *store $(, $arg_0_1)*)
                        .await
                        .map(v0_1::$adapt),
                }
            })
            .await
        });
        $self.store.data_mut().cpu.pause();
        match result {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err($self.fault(e)),
            Err(_) => {
                $self.store.data_mut().stop = Some(Stop::Timeout);
                Err($self.fault(wasmtime::format_err!("wall-clock timeout")))
            }
        }
    }};
}

impl Run {
    pub fn plugin(&self) -> &str {
        &self.name
    }

    /// HTTP requests made so far in this run.
    pub fn requests(&self) -> u32 {
        self.store.data().requests
    }

    /// Whether a request of this run was refused because its `max_requests` were used up.
    pub fn out_of_requests(&self) -> bool {
        self.store.data().out_of_requests
    }

    /// The plugin's description, checked like a record: what `dunwell plugin check` shows an
    /// operator vetting a plugin must not be able to hide or fake a line.
    pub fn describe(&mut self) -> Result<Info, PluginError> {
        let info = call!(self, call_describe, info)?;
        check_info(&info).map_err(|m| {
            // The hosts it asks for are what an operator vetting it most needs to see.
            let hosts: Vec<String> =
                info.http_hosts.iter().map(|h| text::escape(&text::cap(h, 80)).into_owned()).collect();
            let asks = if hosts.is_empty() {
                String::new()
            } else {
                format!(" (it asks to reach {})", hosts.join(", "))
            };
            let err = PluginError::Failed {
                plugin: self.name.clone(),
                message: format!("describe() returned {}{asks}", self.store.data().redact(&m)),
            };
            tracing::debug!(plugin = self.name.as_str(), "{err}");
            err
        })?;
        Ok(info)
    }

    pub fn pull_customers(&mut self, request: &PageRequest) -> Result<CustomerPage, PluginError> {
        let result = call!(self, call_pull_customers, customers, request => &v0_1::request(request))?;
        result.map_err(|e| self.reported("customers", e))
    }

    pub fn pull_invoices(&mut self, request: &PageRequest) -> Result<InvoicePage, PluginError> {
        let result = call!(self, call_pull_invoices, invoices, request => &v0_1::request(request))?;
        result.map_err(|e| self.reported("invoices", e))
    }

    pub fn pull_payments(&mut self, request: &PageRequest) -> Result<PaymentPage, PluginError> {
        let result = call!(self, call_pull_payments, payments, request => &v0_1::request(request))?;
        result.map_err(|e| self.reported("payments", e))
    }

    /// An error the connector itself reported.
    fn reported(&mut self, what: &str, e: ConnectorError) -> PluginError {
        let retry_after = match &e {
            ConnectorError::RateLimited(secs) => *secs,
            _ => None,
        };
        let message = match e {
            ConnectorError::InvalidConfig(m) => format!("invalid configuration: {m}"),
            ConnectorError::Auth(m) => format!("the source refused the credentials: {m}"),
            ConnectorError::RateLimited(Some(s)) => format!("rate limited by the source; retry in {s}s"),
            ConnectorError::RateLimited(None) => "rate limited by the source".to_string(),
            ConnectorError::Remote(m) => format!("the source failed: {m}"),
            ConnectorError::InvalidData(m) => format!("unreadable data: {m}"),
            ConnectorError::Unsupported(m) => format!("unsupported: {m}"),
            ConnectorError::Internal(m) => format!("internal error: {m}"),
        };
        let err = PluginError::Reported {
            plugin: self.name.clone(),
            what: what.to_string(),
            message: self.store.data().redact(&message),
            retry_after,
        };
        tracing::debug!(plugin = self.name.as_str(), "{err}");
        err
    }

    /// Classifies a failure, logs it with the plugin's name, and retires this run.
    fn fault(&mut self, e: wasmtime::Error) -> PluginError {
        self.failed = true;
        stopped_or_failed(&self.name, self.store.data(), e)
    }
}

/// What stopped or failed a call of plugin `name` (its store's state says whether the host
/// stopped it), logged with the plugin's name.
fn stopped_or_failed(name: &str, state: &RunState, e: wasmtime::Error) -> PluginError {
    let limits = &state.settings.limits;
    let reason = match (state.stop, e.downcast_ref::<Trap>()) {
        (Some(Stop::Timeout), _) => {
            Some(format!("wall-clock timeout of {}s exceeded", limits.timeout.as_secs()))
        }
        (Some(Stop::Cpu), _) => {
            Some(format!("CPU budget of {} ms exceeded (endless loop?)", limits.cpu.as_millis()))
        }
        (None, Some(Trap::StackOverflow)) => Some("stack overflow".to_string()),
        (None, Some(Trap::UnreachableCodeReached)) => Some("it panicked (wasm `unreachable`)".to_string()),
        (None, Some(Trap::Interrupt)) => Some("interrupted".to_string()),
        (None, Some(Trap::OutOfFuel)) => Some("out of fuel".to_string()),
        _ => None,
    };
    let text = state.redact(&format!("{e:#}"));
    let memory = text.contains("memory") && (text.contains("limit") || text.contains("grow"));
    let err = match reason {
        Some(reason) => PluginError::Stopped { plugin: name.to_string(), reason },
        None if memory => PluginError::Stopped {
            plugin: name.to_string(),
            reason: format!("memory limit of {} MiB exceeded", limits.memory_bytes >> 20),
        },
        None => PluginError::Failed { plugin: name.to_string(), message: text },
    };
    // Returned to the caller, which reports it once (the CLI's `error:`, the daemon's log).
    tracing::debug!(plugin = name, "{err}");
    err
}

/// What `describe()` may say: bounded, one line each, visible characters only; host names of
/// host-name characters.
fn check_info(info: &Info) -> Result<(), String> {
    let visible = |field: &str, s: &str, max: usize| -> Result<(), String> {
        if s.len() > max {
            return Err(format!("a {field} longer than {max} bytes"));
        }
        if text::escape(s) != s {
            return Err(format!(
                "a {field} with control or invisible characters: `{}`",
                text::escape(&text::cap(s, 200))
            ));
        }
        Ok(())
    };
    if !settings::valid_name(&info.name) {
        return Err(format!(
            "the name `{}`; use lower-case letters, digits, - and _",
            text::escape(&text::cap(&info.name, 80))
        ));
    }
    visible("version", &info.version, 64)?;
    visible("SDK version", &info.sdk_version, 64)?;
    visible("description", &info.description, text::MAX_PLUGIN_TEXT)?;
    for host in &info.http_hosts {
        let ok = !host.is_empty()
            && host.len() <= 260
            && host.chars().all(|c| c.is_ascii_alphanumeric() || ".-:*[]".contains(c));
        if !ok {
            return Err(format!(
                "the host `{}`, which is not a host name",
                text::escape(&text::cap(host, 80))
            ));
        }
    }
    for k in &info.config_keys {
        let ok = !k.name.is_empty()
            && k.name.len() <= 64
            && k.name.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
        if !ok {
            return Err(format!("the config key `{}`", text::escape(&text::cap(&k.name, 80))));
        }
        visible("config key description", &k.description, 512)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spins until the thread's CPU clock has advanced by `d`.
    fn burn(d: Duration) {
        let start = CpuClock::thread_cpu();
        let mut x = 0u64;
        while CpuClock::thread_cpu().saturating_sub(start) < d {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
    }

    #[test]
    fn the_cpu_clock_counts_cpu_while_running_and_nothing_while_paused_or_waiting() {
        let mut clock = CpuClock::default();
        assert_eq!(clock.spent(), Duration::ZERO);
        // Work done before the guest runs is not its time.
        burn(Duration::from_millis(20));
        assert_eq!(clock.spent(), Duration::ZERO);
        clock.resume();
        burn(Duration::from_millis(40));
        let running = clock.spent();
        assert!(running >= Duration::from_millis(40), "{running:?}");
        clock.pause();
        let paused = clock.spent();
        assert!(paused >= running);
        // An HTTP call (paused): the host's work is not the guest's.
        burn(Duration::from_millis(30));
        assert_eq!(clock.spent(), paused);
        // Waiting while running costs no CPU time: 200 ms of sleep, well under 100 ms counted.
        clock.resume();
        std::thread::sleep(Duration::from_millis(200));
        clock.pause();
        let waited = clock.spent() - paused;
        assert!(waited < Duration::from_millis(100), "{waited:?} counted for 200 ms of sleep");
        // A second pause adds nothing.
        let total = clock.spent();
        clock.pause();
        assert_eq!(clock.spent(), total);
    }

    #[test]
    fn wit_versions() {
        assert_eq!(foreign_version("dunwell:connector/source@0.1.0"), None);
        assert_eq!(foreign_version("dunwell:connector/host@0.1.7"), None);
        assert_eq!(foreign_version("dunwell:connector/source@0.2.0"), None);
        assert_eq!(foreign_version("dunwell:connector/host@0.2.3"), None);
        assert_eq!(
            foreign_version("dunwell:connector/source@0.3.0").as_deref(),
            Some("dunwell:connector@0.3.0")
        );
        assert_eq!(
            foreign_version("dunwell:connector/source@1.0.0").as_deref(),
            Some("dunwell:connector@1.0.0")
        );
        assert_eq!(foreign_version("wasi:cli/environment@0.2.0"), None);
        assert_eq!(source_version("dunwell:connector/source@0.1.0"), Some((Contract::V0_1, "0.1.0".into())));
        assert_eq!(source_version("dunwell:connector/source@0.2.4"), Some((Contract::V0_2, "0.2.4".into())));
        assert_eq!(source_version("dunwell:connector/host@0.2.0"), None);
        assert_eq!(source_version("dunwell:connector/source@1.0.0"), None);
        let err = PluginError::WrongVersion { plugin: "x".into(), found: "dunwell:connector@1.0.0".into() };
        assert!(
            err.to_string().contains(
                "built against dunwell:connector@1.0.0, but this dunwell speaks dunwell:connector@0.1.0 and dunwell:connector@0.2.0"
            ),
            "{err}"
        );
    }

    /// The published contracts are frozen: a version's WIT must never change. A change needs a
    /// new version directory (and a minor or major bump, see plugins-sdk/README.md); a contract
    /// the host speaks without a hash here does not compile.
    #[test]
    fn every_contract_spoken_is_frozen() {
        use sha2::Digest;
        for contract in Contract::ALL {
            let frozen = match contract {
                Contract::V0_1 => "ef16153747e5e00341a92daae52b0f889404469a1f7a9cef93d07e949a023d64",
                Contract::V0_2 => "b1698b07edd25ab72f5da6361693aaefa542ba5794e62fc9278033cc5909e604",
            };
            let version = contract.version();
            let path = format!(
                "{}/../plugins-sdk/wit/connector@{version}/connector.wit",
                env!("CARGO_MANIFEST_DIR")
            );
            let text = std::fs::read(&path).expect("the WIT file");
            let hash = format!("{:x}", sha2::Sha256::digest(&text));
            assert_eq!(
                hash, frozen,
                "plugins-sdk/wit/connector@{version} changed; published WIT is immutable"
            );
        }
    }
}
