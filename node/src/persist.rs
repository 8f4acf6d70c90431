//! The data directory: the node key and the saved view.
//!
//! - `node.key`: the secp256k1 secret key, 64 hex characters, file mode
//!   0600. Created on first start; never logged. The node ID is derived from
//!   it, so it survives restarts.
//! - `view.json`: `{"version":1,"saved_at":<unix s>,"enrs":["enr:…",…]}`,
//!   the ENRs of the view, written periodically and at shutdown by an atomic
//!   replace (write a temporary file, fsync, rename). At start the ENRs are
//!   re-verified (pinged) before they are served. A malformed file is moved
//!   aside to `view.json.bad` and the node starts with an empty view.
//! - `scores.json`: behaviour scores and bans
//!   (`discguard_scoring::SavedScores`: `{"version":1,"saved_at":<unix ms>,
//!   "peers":[{"node_id","score","ip","ban":{"until","reason"}}…],
//!   "ip_bans":[…]}`), peers with a nonzero score or a ban in force, at most
//!   the scoreboard's bound; saved with the view, the same way. A malformed
//!   file is moved aside to `scores.json.bad` and the node starts with no
//!   scores.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use discguard_scoring::SavedScores;
use discguard_service::discv5::Enr;
use discguard_service::enr::CombinedKey;
use discguard_service::enr::k256::ecdsa::SigningKey;
use serde::{Deserialize, Serialize};

/// File name of the node key in the datadir.
pub const KEY_FILE: &str = "node.key";
/// File name of the saved view in the datadir.
pub const VIEW_FILE: &str = "view.json";
/// At most this many ENRs are saved or restored (the view is smaller; this
/// bounds what a tampered file can make us load).
pub const MAX_SAVED_ENRS: usize = 4096;
/// Largest `view.json` we read (bytes): 4096 ENRs of at most 300 bytes of text.
pub const MAX_VIEW_FILE_BYTES: u64 = 2 * 1024 * 1024;

/// File name of the saved scores and bans in the datadir.
pub const SCORES_FILE: &str = "scores.json";
/// Largest `scores.json` we read (bytes): 16,384 peers of about 200 bytes.
pub const MAX_SCORES_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Errors of the data directory.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The key file exists but does not hold a valid key.
    #[error("{path}: not a secp256k1 secret key (expected 64 hex characters): {reason}")]
    BadKey {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Another discguard holds the datadir.
    #[error("{path} is locked: another discguard uses this datadir")]
    InUse {
        /// The lock file.
        path: PathBuf,
    },
    /// The saved scores are malformed.
    #[error("{path}: malformed scores file: {reason}")]
    BadScores {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The saved view is malformed.
    #[error("{path}: malformed view snapshot: {reason}")]
    BadView {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> PersistError + '_ {
    move |source| PersistError::Io {
        path: path.to_owned(),
        source,
    }
}

/// File name of the lock that keeps two nodes off one datadir.
pub const LOCK_FILE: &str = "LOCK";

/// Creates the datadir if needed (mode 0700 on Unix; an existing directory
/// keeps its mode).
pub fn ensure_datadir(dir: &Path) -> Result<(), PersistError> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io_err(dir))?;
    }
    Ok(())
}

/// Takes an exclusive lock on the datadir for the life of the returned
/// file: two nodes on one datadir would share a node ID and overwrite each
/// other's snapshots.
pub fn lock_datadir(dir: &Path) -> Result<fs::File, PersistError> {
    let path = dir.join(LOCK_FILE);
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_err(&path))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(PersistError::InUse { path }),
        Err(fs::TryLockError::Error(source)) => Err(PersistError::Io { path, source }),
    }
}

/// Loads the node key, or creates one (mode 0600) on first start. Returns
/// the key and whether it was created.
pub fn load_or_create_key(dir: &Path) -> Result<(CombinedKey, bool), PersistError> {
    let path = dir.join(KEY_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => {
            let bad = |reason: String| PersistError::BadKey {
                path: path.clone(),
                reason,
            };
            let mut bytes = hex::decode(text.trim()).map_err(|e| bad(e.to_string()))?;
            let key = CombinedKey::secp256k1_from_bytes(&mut bytes).map_err(|e| bad(e.to_string()));
            bytes.iter_mut().for_each(|b| *b = 0);
            Ok((key?, false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = CombinedKey::generate_secp256k1();
            let CombinedKey::Secp256k1(secret) = &key else {
                unreachable!("generated secp256k1")
            };
            let secret: &SigningKey = secret;
            let hex = hex::encode(secret.to_bytes());
            write_atomic(&path, hex.as_bytes(), 0o600)?;
            Ok((key, true))
        }
        Err(source) => Err(PersistError::Io { path, source }),
    }
}

/// Writes `bytes` to `path` atomically: a temporary file in the same
/// directory, fsync, rename. `mode` applies on Unix.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), PersistError> {
    let tmp = path.with_extension("tmp");
    // A temporary file left by a crash keeps its old mode if reopened:
    // start from a fresh one.
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(PersistError::Io { path: tmp, source }),
    }
    {
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(mode);
        }
        #[cfg(not(unix))]
        let _ = mode;
        let mut file = options.open(&tmp).map_err(io_err(&tmp))?;
        file.write_all(bytes).map_err(io_err(&tmp))?;
        file.sync_all().map_err(io_err(&tmp))?;
    }
    fs::rename(&tmp, path).map_err(io_err(path))?;
    if let Some(dir) = path.parent() {
        // Persist the rename itself.
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ViewFile {
    version: u32,
    saved_at: u64,
    enrs: Vec<String>,
}

/// Saves the view's ENRs (at most [`MAX_SAVED_ENRS`]).
pub fn save_view(dir: &Path, enrs: &[Enr]) -> Result<(), PersistError> {
    let saved_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let file = ViewFile {
        version: 1,
        saved_at,
        enrs: enrs
            .iter()
            .take(MAX_SAVED_ENRS)
            .map(Enr::to_base64)
            .collect(),
    };
    let path = dir.join(VIEW_FILE);
    let json = serde_json::to_vec_pretty(&file).map_err(|e| PersistError::Io {
        path: path.clone(),
        source: e.into(),
    })?;
    write_atomic(&path, &json, 0o600)
}

/// Loads the saved view. A missing file is an empty view. ENRs that fail
/// to decode are skipped and counted (second value).
pub fn load_view(dir: &Path) -> Result<(Vec<Enr>, usize), PersistError> {
    let path = dir.join(VIEW_FILE);
    let bad = |reason: String| PersistError::BadView {
        path: path.clone(),
        reason,
    };
    let meta = match fs::metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(source) => return Err(PersistError::Io { path, source }),
    };
    if meta.len() > MAX_VIEW_FILE_BYTES {
        return Err(bad(format!(
            "{} bytes, more than the {MAX_VIEW_FILE_BYTES} allowed",
            meta.len()
        )));
    }
    let bytes = fs::read(&path).map_err(io_err(&path))?;
    let file: ViewFile = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
    if file.version != 1 {
        return Err(bad(format!("unknown version {}", file.version)));
    }
    let mut skipped = 0;
    let enrs = file
        .enrs
        .iter()
        .take(MAX_SAVED_ENRS)
        .filter_map(|s| s.parse::<Enr>().map_err(|_| skipped += 1).ok())
        .collect();
    Ok((enrs, skipped))
}

/// Saves scores and bans.
pub fn save_scores(dir: &Path, scores: &SavedScores) -> Result<(), PersistError> {
    let path = dir.join(SCORES_FILE);
    let json = serde_json::to_vec(scores).map_err(|e| PersistError::Io {
        path: path.clone(),
        source: e.into(),
    })?;
    write_atomic(&path, &json, 0o600)
}

/// Loads saved scores and bans; `None` when there is no file. Only the
/// shape is checked here; the service checks the entries
/// (`ServiceHandle::restore_scores`).
pub fn load_scores(dir: &Path) -> Result<Option<SavedScores>, PersistError> {
    let path = dir.join(SCORES_FILE);
    let bad = |reason: String| PersistError::BadScores {
        path: path.clone(),
        reason,
    };
    let meta = match fs::metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(PersistError::Io { path, source }),
    };
    if meta.len() > MAX_SCORES_FILE_BYTES {
        return Err(bad(format!(
            "{} bytes, more than the {MAX_SCORES_FILE_BYTES} allowed",
            meta.len()
        )));
    }
    let bytes = fs::read(&path).map_err(io_err(&path))?;
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| bad(e.to_string()))
}

/// Moves a malformed file of the datadir aside (`<name>.bad`), so that it
/// is kept for inspection and not overwritten. Returns the new path.
pub fn quarantine(dir: &Path, name: &str) -> Result<PathBuf, PersistError> {
    let from = dir.join(name);
    let to = dir.join(format!("{name}.bad"));
    fs::rename(&from, &to).map_err(io_err(&from))?;
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;
    use discguard_service::enr::EnrKey;

    #[test]
    fn key_is_created_once_with_mode_0600_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let (k1, created) = load_or_create_key(dir.path()).unwrap();
        assert!(created);
        let (k2, created) = load_or_create_key(dir.path()).unwrap();
        assert!(!created);
        assert_eq!(k1.public(), k2.public(), "same identity after restart");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_second_node_cannot_take_the_datadir() {
        let dir = tempfile::tempdir().unwrap();
        let held = lock_datadir(dir.path()).unwrap();
        let err = lock_datadir(dir.path()).err().unwrap().to_string();
        assert!(
            err.contains(LOCK_FILE) && err.contains("another discguard"),
            "{err}"
        );
        drop(held);
        assert!(
            lock_datadir(dir.path()).is_ok(),
            "free again once the first lets go"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_leftover_temporary_file_does_not_leak_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join("node.tmp");
        fs::write(&tmp, "old").unwrap();
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o644)).unwrap();
        let (_, created) = load_or_create_key(dir.path()).unwrap();
        assert!(created);
        let mode = fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn bad_key_file_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(KEY_FILE), "not hex").unwrap();
        let err = load_or_create_key(dir.path()).err().unwrap().to_string();
        assert!(err.contains(KEY_FILE), "{err}");
        // The bad file is left alone: we never replace an identity silently.
        assert_eq!(
            fs::read_to_string(dir.path().join(KEY_FILE)).unwrap(),
            "not hex"
        );
    }

    #[test]
    fn view_round_trips_and_skips_bad_records() {
        let dir = tempfile::tempdir().unwrap();
        let key = CombinedKey::generate_secp256k1();
        let enr = Enr::builder()
            .ip4("10.0.0.1".parse().unwrap())
            .udp4(9000)
            .build(&key)
            .unwrap();
        save_view(dir.path(), std::slice::from_ref(&enr)).unwrap();
        let (enrs, skipped) = load_view(dir.path()).unwrap();
        assert_eq!((enrs, skipped), (vec![enr.clone()], 0));

        let text = format!(
            r#"{{"version":1,"saved_at":0,"enrs":["{}","enr:garbage"]}}"#,
            enr.to_base64()
        );
        fs::write(dir.path().join(VIEW_FILE), text).unwrap();
        let (enrs, skipped) = load_view(dir.path()).unwrap();
        assert_eq!((enrs.len(), skipped), (1, 1));
    }

    #[test]
    fn malformed_view_is_an_error_and_can_be_quarantined() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(VIEW_FILE), "{ truncated").unwrap();
        let err = load_view(dir.path()).err().unwrap().to_string();
        assert!(err.contains(VIEW_FILE), "{err}");
        let moved = quarantine(dir.path(), VIEW_FILE).unwrap();
        assert_eq!(
            fs::read_to_string(moved).unwrap(),
            "{ truncated",
            "nothing is lost"
        );
        assert_eq!(load_view(dir.path()).unwrap().0.len(), 0);
    }
}
