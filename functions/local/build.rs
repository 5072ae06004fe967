//! Embeds the built dashboard (`static-site/dist`) into the binary: one `include_bytes!` per file, listed
//! in `$OUT_DIR/dashboard.rs`. A missing build embeds nothing (the binary then says how to build it).
//! No crate for this: a directory walk keeps the build graph as it was.

use std::path::{Path, PathBuf};

fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, root, out);
        } else if let Ok(rel) = path.strip_prefix(root) {
            out.push((rel.to_string_lossy().replace('\\', "/"), path.canonicalize().unwrap_or(path.clone())));
        }
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let dist = manifest.join("../../static-site/dist");
    println!("cargo:rerun-if-changed={}", dist.display());
    let mut files = Vec::new();
    if dist.join("index.html").is_file() {
        walk(&dist, &dist, &mut files);
    }
    files.sort();
    let entries: String = files.iter().map(|(rel, abs)| format!("    ({rel:?}, include_bytes!({:?})),\n", abs.display().to_string())).collect();
    let code = format!("/// The dashboard build embedded at compile time (empty when it was not built).\npub static DASHBOARD: &[(&str, &[u8])] = &[\n{entries}];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("dashboard.rs");
    std::fs::write(out, code).expect("write dashboard.rs");
}
