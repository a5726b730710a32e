//! The owners of secure rounds' keys as `meshfed join` first saw them (trust on first use):
//! per server, each member's recovery-phrase public key. A later round that shows another key
//! for someone is refused before any secret is sealed for it (`secagg::identity::KnownKeys`).
//! The file is `--known-keys`, else `$XDG_CONFIG_HOME/meshfed/known_keys.json`, else
//! `~/.config/meshfed/known_keys.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use meshfed_shared::secagg::identity::{KnownKeys, MemberSignature};

use crate::error::{CliError, CliResult};

pub struct KnownKeysFile {
    path: PathBuf,
    servers: BTreeMap<String, KnownKeys>,
}

impl KnownKeysFile {
    /// Where the keys live when `--known-keys` names no file.
    pub fn default_path() -> Option<PathBuf> {
        let config = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
        Some(config.join("meshfed/known_keys.json"))
    }

    /// The file at `path`: empty when it does not exist yet; an error when it cannot be read,
    /// for a file that says nothing must not make every key trusted again.
    pub fn open(path: &Path) -> CliResult<Self> {
        let servers = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                CliError::Usage(format!("{} is not a known-keys file: {e}", path.display()))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(CliError::Usage(format!("{}: {e}", path.display()))),
        };
        Ok(Self {
            path: path.to_path_buf(),
            servers,
        })
    }

    /// Pins the round's members' keys for `server` and saves the file (written whole, then
    /// renamed over the old one); refuses a member whose key changed. Answers the members
    /// seen for the first time.
    pub fn pin<'a>(
        &mut self,
        server: &str,
        members: &'a [MemberSignature],
    ) -> CliResult<Vec<&'a MemberSignature>> {
        let known = self.servers.entry(server.to_string()).or_default();
        let new = known
            .pin(members)
            .map_err(|e| CliError::Server(format!("secure aggregation refused: {e}")))?;
        if !new.is_empty() {
            self.save()?;
        }
        Ok(new)
    }

    fn save(&self) -> CliResult<()> {
        let failed = |e: std::io::Error| CliError::Usage(format!("{}: {e}", self.path.display()));
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(failed)?;
        }
        let bytes = serde_json::to_vec_pretty(&self.servers)
            .map_err(|e| CliError::Usage(format!("the known keys: {e}")))?;
        let partial = self.path.with_extension("json.partial");
        std::fs::write(&partial, bytes).map_err(failed)?;
        std::fs::rename(&partial, &self.path).map_err(failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(username: &str, key: char) -> MemberSignature {
        MemberSignature {
            x: 1,
            username: username.into(),
            public_key: key.to_string().repeat(64),
            signature: [0; 64],
        }
    }

    #[test]
    fn keys_are_pinned_per_server_kept_on_disk_and_may_not_change() {
        let dir = std::env::temp_dir().join(format!("meshfed-known-{}", std::process::id()));
        let path = dir.join("known_keys.json");
        let _ = std::fs::remove_dir_all(&dir);
        let mut file = KnownKeysFile::open(&path).unwrap();
        assert_eq!(
            file.pin("http://a", &[member("ada", 'a')]).unwrap().len(),
            1
        );
        assert_eq!(
            file.pin("http://b", &[member("ada", 'b')]).unwrap().len(),
            1,
            "another server"
        );
        let mut again = KnownKeysFile::open(&path).unwrap();
        assert!(again
            .pin("http://a", &[member("ada", 'a')])
            .unwrap()
            .is_empty());
        let changed = again.pin("http://a", &[member("ada", 'c')]).unwrap_err();
        assert!(changed.to_string().contains("ada"), "{changed}");
        std::fs::write(&path, b"{not json").unwrap();
        assert!(
            KnownKeysFile::open(&path).is_err(),
            "an unreadable file trusts nothing"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
