//! The settings of a run, resolved once from the command line and the site configuration
//! (`--config`, [`crate::config`]): a flag wins over the file, the file over the default.
//! Each value was checked where it was read, so an error names its source: the flag
//! (`--bridge-helper '...'`), or the file and line.

use crate::cli::Request;
use crate::config::{Config, FilesInclude};
use crate::error::{Error, Result};
use crate::escape::AaPattern;
use crate::fsio;
use crate::rules::{self, Options};
use std::path::{Path, PathBuf};

/// What `-c` and `-r` act on besides the XML.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The rules stage's options (bridge helper, `backing_deny_write`, memory backing).
    pub options: Options,
    /// Where untranslated storage volumes are looked up.
    pub pool_dir: PathBuf,
    /// How a new profile includes its `.files`.
    pub files_include: FilesInclude,
}

impl Settings {
    /// Reads `--config` (a missing file means the defaults) and merges it with the flags.
    pub fn resolve(req: &Request) -> Result<Self> {
        let config = load_config(&req.config)?;
        let bridge_helper = req
            .bridge_helper
            .clone()
            .or(config.bridge_helper)
            .unwrap_or_else(|| AaPattern::fixed(rules::DEFAULT_BRIDGE_HELPER));
        Ok(Settings {
            options: Options {
                bridge_helper,
                backing_deny_write: config.backing_deny_write,
                memory_backing_dir: config.memory_backing_dir,
            },
            pool_dir: req
                .pool_dir
                .clone()
                .or(config.pool_dir)
                .unwrap_or_else(|| crate::resolve::DEFAULT_POOL_DIR.into()),
            files_include: config.files_include,
        })
    }
}

/// The site configuration; a missing file means [`Config::default`]. Like templates, it
/// must not be writable by anyone but root.
fn load_config(path: &Path) -> Result<Config> {
    let bytes = fsio::read_trusted(path, |path, why| Error::Config {
        path,
        line: None,
        why,
    })?;
    match bytes {
        None => Ok(Config::default()),
        Some(bytes) => {
            let text = String::from_utf8(bytes).map_err(|_| Error::Config {
                path: path.to_path_buf(),
                line: None,
                why: "not valid UTF-8".into(),
            })?;
            Config::parse(&text, path)
        }
    }
}
