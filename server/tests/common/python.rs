//! Python venvs for the tests that run real Python programs (the example backend, the SMTP
//! server), made from a pinned `requirements.txt` on first use and kept in the tool cache
//! (`~/.cache/gatebell/<name>`); a stamp holding the requirements it was made from tells when
//! to make it again. Needs `python3` and, once, PyPI.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The python of the venv `name`, made from `requirements` when it is missing or stale.
pub fn venv(name: &str, requirements: &Path) -> PathBuf {
    let wanted = std::fs::read_to_string(requirements).unwrap();
    let cache = std::env::var_os("GATEBELL_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("gatebell")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/gatebell")))
        .expect("HOME is set");
    let venv = cache.join(name);
    let stamp = venv.join(".gatebell-requirements");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
        // Made aside and renamed into place, so a half-made venv is never used.
        let building = cache.join(format!("{name}.{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&building);
        let ok = |c: &mut Command| assert!(c.status().expect("runs").success(), "{c:?} failed");
        ok(Command::new("python3").arg("-m").arg("venv").arg(&building));
        ok(Command::new(building.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(requirements));
        std::fs::write(building.join(".gatebell-requirements"), &wanted).unwrap();
        let _ = std::fs::remove_dir_all(&venv);
        // Its python finds its packages from where it is run (`pyvenv.cfg` beside it); only
        // the pip script's shebang keeps the old folder, and it is not used again.
        std::fs::rename(&building, &venv).unwrap();
    }
    venv.join("bin/python")
}
