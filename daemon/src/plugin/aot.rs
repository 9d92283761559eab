//! Components compiled ahead of time (`dunwell plugin compile`), for the daemon's start-up and
//! reload time: Cranelift takes seconds per connector, loading compiled code takes
//! milliseconds.
//!
//! Compiled code is machine code the host runs without checking it, so dunwell only loads an
//! artefact it wrote itself: each file's SHA-256 is recorded in the store when it is written
//! (`plugin_artifacts`, in the data directory only the daemon writes), the bytes read back are
//! hashed and compared before `Component::deserialize` sees them (the verified bytes, not the
//! file again: no window to swap it in between). The file name carries the engine's
//! compatibility hash and the component's SHA-256, so a new dunwell or a rebuilt connector
//! never loads a stale artefact: it compiles as before.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::Engine;

use crate::store::{Store, StoreError};

/// The artefacts dunwell wrote into `dir`, by file name, with their SHA-256.
#[derive(Debug, Clone, Default)]
pub struct Artifacts {
    dir: PathBuf,
    known: HashMap<String, String>,
    /// The store to record new artefacts in (the daemon keeps what it compiled).
    database: Option<PathBuf>,
}

/// `<engine compatibility>-<component sha256>.cwasm`.
pub fn file_name(engine: &Engine, component: &[u8]) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    format!("{:016x}-{}.cwasm", h.finish(), crate::text::hex(&Sha256::digest(component)))
}

impl Artifacts {
    pub fn load(store: &Store, dir: &Path) -> Result<Artifacts, StoreError> {
        Ok(Artifacts {
            dir: dir.to_path_buf(),
            known: store.plugin_artifacts()?.into_iter().collect(),
            database: Some(store.path().to_path_buf()),
        })
    }

    /// Keeps a component the host had to compile, so the next start loads it: written by the
    /// process that runs it (the service's own user, into its cache directory). A failure only
    /// costs the next start its compile time, so it is logged, not returned.
    pub fn keep(&self, engine: &Engine, wasm: &[u8], component: &Component, plugin: &str) {
        let Some(database) = &self.database else { return };
        let result = component
            .serialize()
            .map_err(|e| format!("{e:#}"))
            .and_then(|compiled| write(&self.dir, &file_name(engine, wasm), &compiled))
            .and_then(|(name, sha)| {
                let mut store = Store::open(database).map_err(|e| e.to_string())?;
                store.record_plugin_artifact(&name, &sha, plugin).map_err(|e| e.to_string())
            });
        if let Err(e) = result {
            tracing::warn!(plugin, "cannot keep the compiled component in {}: {e}", self.dir.display());
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The compiled component for `component`, when dunwell wrote one for this engine and
    /// the file still holds exactly what it wrote.
    pub fn component(&self, engine: &Engine, component: &[u8]) -> Option<Component> {
        let name = file_name(engine, component);
        let expected = self.known.get(&name)?;
        let bytes = std::fs::read(self.dir.join(&name)).ok()?;
        if &crate::text::hex(&Sha256::digest(&bytes)) != expected {
            tracing::warn!(
                "{} is not the compiled component dunwell wrote (its hash differs); compiling from the .wasm instead",
                self.dir.join(&name).display()
            );
            return None;
        }
        // SAFETY: these bytes are, hash for hash, the output of `Engine::precompile_component`
        // that dunwell wrote and recorded in its own store; the name pins the engine they
        // were compiled for.
        match unsafe { Component::deserialize(engine, &bytes) } {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!("cannot load {}: {e:#}; compiling from the .wasm instead", name);
                None
            }
        }
    }
}

/// Compiles `component` for `engine` into `dir` and records it. Returns the file written.
pub fn compile(
    store: &mut Store,
    engine: &Engine,
    dir: &Path,
    plugin: &str,
    component: &[u8],
) -> Result<PathBuf, String> {
    let compiled =
        engine.precompile_component(component).map_err(|e| format!("cannot compile {plugin}: {e:#}"))?;
    let (name, sha) = write(dir, &file_name(engine, component), &compiled)?;
    store.record_plugin_artifact(&name, &sha, plugin).map_err(|e| e.to_string())?;
    Ok(dir.join(name))
}

/// Writes an artefact (temporary file, mode 0600, then rename); returns its name and SHA-256.
fn write(dir: &Path, name: &str, compiled: &[u8]) -> Result<(String, String), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join(name);
    let tmp = dir.join(format!("{name}.tmp"));
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
        f.write_all(compiled)
            .and_then(|()| f.sync_all())
            .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    }
    std::fs::rename(&tmp, &path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok((name.to_string(), crate::text::hex(&Sha256::digest(compiled))))
}
