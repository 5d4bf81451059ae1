//! Records the git revision for `parlor --version`, and builds the vendored libopus (`src/voice/core/audio/libopus`, BSD, see its COPYING) with the
//! system C compiler through the `cc` crate, so that building parlor needs only the Rust
//! toolchain and the C compiler every Rust build on Linux already uses (no CMake).
//!
//! The source lists are read from libopus's own `*_sources.mk` files and the defines follow its
//! CMake build for a float library: runtime CPU detection (`OPUS_HAVE_RTCD`) with the SSE4.1
//! and AVX2 paths compiled per file with their instruction sets, hardening on, variable-length
//! arrays for scratch space, no deep-learning extensions (DRED, OSCE). The C code is always
//! optimised (`-O3`), also in debug builds: it is not parlor's code to step through, and an
//! unoptimised codec would slow every voice test. Targets other than x86_64 get the portable
//! C paths.
//!
//! One change to libopus's dispatch, without touching its sources: on CPUs with AVX2 the
//! delayed-decision quantiser of SILK runs the SSE4.1 code for one or two states, where
//! libopus runs scalar C (see `src/voice/core/audio/silk_nsq_dispatch.c` for why and how; the
//! bits are the same, `opus_ffi`'s tests check it against a known encoding).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

const LIBOPUS: &str = "src/voice/core/audio/libopus";
/// parlor's replacement for libopus's AVX2 entry to the delayed-decision quantiser.
const NSQ_DISPATCH: &str = "src/voice/core/audio/silk_nsq_dispatch.c";
/// The libopus file that maps CPU levels to quantiser functions; compiled with the AVX2 entry
/// renamed to [`NSQ_DISPATCH`]'s.
const SILK_MAP: &str = "silk/x86/x86_silk_map.c";

fn main() {
    build_libopus();
    revision();
}

/// (None of these variables starts with `PARLOR_`: cargo also sets `rustc-env` variables for
/// the binaries it runs, and `PARLOR_*` variables are configuration keys.)
///
/// `BUILT_GIT_REVISION` for `parlor --version`: `SOURCE_GIT_REVISION` when a packager sets it,
/// else the git commit being built (with `-dirty` when tracked files differ from it at the
/// time this script runs, which is when the commit changes), else "unknown".
fn revision() {
    println!("cargo:rerun-if-env-changed=SOURCE_GIT_REVISION");
    println!("cargo:rerun-if-changed=.git/HEAD");
    if let Ok(head) = std::fs::read_to_string(".git/HEAD")
        && let Some(reference) = head.strip_prefix("ref: ")
    {
        println!("cargo:rerun-if-changed=.git/{}", reference.trim());
    }
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let revision = std::env::var("SOURCE_GIT_REVISION")
        .ok()
        .filter(|r| !r.is_empty())
        .or_else(|| {
            let rev = git(&["rev-parse", "--short=12", "HEAD"])?;
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            Some(if dirty { format!("{rev}-dirty") } else { rev })
        })
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=BUILT_GIT_REVISION={revision}");
}

fn build_libopus() {
    let root = PathBuf::from(LIBOPUS);
    println!("cargo:rerun-if-changed={LIBOPUS}");
    println!("cargo:rerun-if-changed={NSQ_DISPATCH}");
    let mut lists = HashMap::new();
    for mk in ["opus_sources.mk", "celt_sources.mk", "silk_sources.mk"] {
        lists.extend(read_mk(&root.join(mk)));
    }
    let version = std::fs::read_to_string(root.join("package_version"))
        .ok()
        .and_then(|v| v.split('"').nth(1).map(str::to_string))
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=BUILT_LIBOPUS_VERSION={version}");
    let x86 = std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("x86_64");

    let mut base = cc::Build::new();
    base.include(root.join("include"))
        .include(&root)
        .include(root.join("celt"))
        .include(root.join("silk"))
        .include(root.join("silk/float"))
        .define("OPUS_BUILD", None)
        .define("ENABLE_HARDENING", None)
        .define("VAR_ARRAYS", None)
        .define("HAVE_LRINT", None)
        .define("HAVE_LRINTF", None)
        .define("PACKAGE_VERSION", Some(format!("\"{version}\"").as_str()))
        .opt_level(3)
        .debug(false)
        .warnings(false)
        .flag_if_supported("-std=gnu99")
        .flag_if_supported("-fvisibility=hidden")
        .flag_if_supported("-fstack-protector-strong")
        .define("_FORTIFY_SOURCE", Some("2"));
    if x86 {
        base.define("OPUS_HAVE_RTCD", None)
            .define("CPU_INFO_BY_ASM", None)
            .define("OPUS_X86_MAY_HAVE_SSE", None)
            .define("OPUS_X86_MAY_HAVE_SSE2", None)
            .define("OPUS_X86_MAY_HAVE_SSE4_1", None)
            .define("OPUS_X86_MAY_HAVE_AVX2", None)
            // Every x86_64 CPU has SSE and SSE2.
            .define("OPUS_X86_PRESUME_SSE", None)
            .define("OPUS_X86_PRESUME_SSE2", None);
    }

    let list = |name: &str| -> Vec<PathBuf> {
        lists
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not in libopus's source lists"))
            .iter()
            .map(|f| root.join(f))
            .collect()
    };
    let mut plain = Vec::new();
    for name in [
        "OPUS_SOURCES",
        "OPUS_SOURCES_FLOAT",
        "CELT_SOURCES",
        "SILK_SOURCES",
        "SILK_SOURCES_FLOAT",
    ] {
        plain.extend(list(name));
    }
    // (source list, extra compiler flags) of the instruction-set-specific files.
    let mut special: Vec<(Vec<PathBuf>, &[&str])> = Vec::new();
    if x86 {
        plain.extend(list("CELT_SOURCES_X86_RTCD"));
        plain.extend(list("SILK_SOURCES_X86_RTCD"));
        plain.extend(list("CELT_SOURCES_SSE"));
        plain.extend(list("CELT_SOURCES_SSE2"));
        let mut sse41 = list("CELT_SOURCES_SSE4_1");
        sse41.extend(list("SILK_SOURCES_SSE4_1"));
        special.push((sse41, &["-msse4.1"]));
        let mut avx2 = list("CELT_SOURCES_AVX2");
        avx2.extend(list("SILK_SOURCES_AVX2"));
        avx2.extend(list("SILK_SOURCES_FLOAT_AVX2"));
        special.push((avx2, &["-mavx", "-mfma", "-mavx2"]));
        let map = root.join(SILK_MAP);
        let before = plain.len();
        plain.retain(|f| *f != map);
        assert_eq!(
            plain.len() + 1,
            before,
            "{SILK_MAP} is not in libopus's source lists"
        );
        plain.push(PathBuf::from(NSQ_DISPATCH));
        special.push((
            vec![map],
            &["-Dsilk_NSQ_del_dec_avx2=parlor_silk_NSQ_del_dec_avx2"],
        ));
    }

    // This script also reruns when the commit changes (see `revision`): the library is
    // rebuilt only when the vendored sources or these settings changed.
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let stamp = out.join("libopus.stamp");
    let fingerprint = format!(
        "{:?} {x86} {} {}",
        fingerprint(&root),
        std::fs::read_to_string("build.rs").map_or(0, |s| s.len()),
        std::fs::read_to_string(NSQ_DISPATCH).map_or(0, |s| s.len())
    );
    if out.join("libopus.a").exists()
        && std::fs::read_to_string(&stamp).is_ok_and(|s| s == fingerprint)
    {
        println!("cargo:rustc-link-search=native={}", out.display());
        println!("cargo:rustc-link-lib=static=opus");
        link_libm();
        return;
    }
    // One static library: the per-instruction-set objects are compiled separately and linked
    // in with the rest.
    let mut objects = Vec::new();
    for (i, (files, flags)) in special.iter().enumerate() {
        let mut b = base.clone();
        for f in *flags {
            b.flag(f);
        }
        b.out_dir(out.join(format!("opus-isa-{i}")));
        objects.extend(b.files(files).compile_intermediates());
    }
    let mut lib = base;
    lib.files(&plain).objects(objects);
    lib.compile("opus");
    link_libm();
    std::fs::write(&stamp, fingerprint).expect("writing the libopus stamp");
}

fn link_libm() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("windows") {
        println!("cargo:rustc-link-lib=m");
    }
}

/// (files, bytes, latest modification) of everything under `dir`.
fn fingerprint(dir: &Path) -> (u64, u64, std::time::SystemTime) {
    let mut acc = (0, 0, std::time::UNIX_EPOCH);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                acc.0 += 1;
                acc.1 += meta.len();
                acc.2 = acc.2.max(meta.modified().unwrap_or(std::time::UNIX_EPOCH));
            }
        }
    }
    acc
}

/// The variables of a libopus `*.mk` source list: `NAME = a.c \ b.c` → NAME → [a.c, b.c].
fn read_mk(path: &Path) -> HashMap<String, Vec<String>> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let mut vars = HashMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        let body = if let Some((name, rest)) = line.split_once('=') {
            current = Some(name.trim().to_string());
            vars.insert(name.trim().to_string(), Vec::new());
            rest
        } else {
            line
        };
        let continued = body.ends_with('\\');
        if let Some(name) = &current {
            let files = vars.get_mut(name).expect("inserted above");
            files.extend(
                body.trim_end_matches('\\')
                    .split_whitespace()
                    .map(str::to_string),
            );
        }
        if !continued {
            current = None;
        }
    }
    vars
}
