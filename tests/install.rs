//! `make install` as a user outside the repository meets it.
//!
//! Each test installs the build this test binary belongs to (`PROFILE=<its profile>`, so
//! no release build is needed) into its own temporary prefix, with a PATH whose `cargo`
//! fails loudly: installing must only copy what the build built. Then, in a folder
//! outside the tree and with nothing but PATH and PKG_CONFIG_PATH set, it builds
//! tests/install_app.c with the README's line, `cc app.c $(pkg-config --cflags --libs
//! nrtq)`, runs it on an installed model and checks it loaded the installed libraries.
//! `make uninstall` must then leave no file of ours behind.
//!
//! The C++ and Go users get the same treatment from the same install (`install_nrtq_and_emulator`):
//! tests/install_app.cpp is built with `c++ -std=c++17 -Wall -Wextra -Werror app.cpp
//! $(pkg-config --cflags --libs nrtq)` from the installed headers alone, and examples-go/
//! is copied out and built with `go build`, its go.mod pointing at this checkout's go/
//! (the module is not published), with PKG_CONFIG_PATH naming only the prefix's folders;
//! both also against the simulated Neuron install. The Go builds are offline, with their
//! caches under target/ (tests/go_support); without `go` they are skipped, except under
//! `CI=true`, where that is a failure.
mod build_tree;

use build_tree::*;
mod go_support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Once;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `PROFILE=<profile> CARGO_TARGET_DIR=<target>`: make installs the build this test
/// binary belongs to.
fn build_args() -> [String; 2] {
    let dir = profile_dir();
    [
        format!("PROFILE={}", dir.file_name().unwrap().to_str().unwrap()),
        format!("CARGO_TARGET_DIR={}", dir.parent().unwrap().display()),
    ]
}

/// A fresh folder for one test, outside the repository; removed when the test passes.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("nrtq-install-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        assert!(
            !dir.starts_with(root()),
            "scratch folder inside the repository"
        );
        // A `cargo` that fails, first on PATH: make must never reach for it.
        let bin = dir.join("no-cargo");
        std::fs::create_dir_all(&bin).unwrap();
        let fake = bin.join("cargo");
        std::fs::write(
            &fake,
            "#!/bin/sh\necho 'cargo must not run during install' >&2\nexit 97\n",
        )
        .unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        Scratch(dir)
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }

    fn search_path(&self) -> String {
        format!("{}:/usr/bin:/bin", self.path("no-cargo").display())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn show(out: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `make -C <repo> PROFILE=.. CARGO_TARGET_DIR=.. ARGS` (this test's build; a later
/// `PROFILE=` in ARGS wins), with an empty environment but PATH (whose cargo fails).
fn make(scratch: &Scratch, args: &[&str]) -> Output {
    Command::new("make")
        .arg("-s")
        .arg("--no-print-directory")
        .arg("-C")
        .arg(root())
        .args(build_args())
        .args(args)
        .env_clear()
        .env("PATH", scratch.search_path())
        .output()
        .expect("run make")
}

fn make_ok(scratch: &Scratch, args: &[&str]) {
    let out = make(scratch, args);
    assert!(
        out.status.success(),
        "make {args:?} failed:\n{}",
        show(&out)
    );
}

/// `make shared-lib`, once per test binary: links target/<profile>/libnrtq.so.X.Y.Z from
/// libnrtq.a with the version script (the build's last step; cargo has already run).
fn link_shared_library(scratch: &Scratch) {
    static LINK: Once = Once::new();
    LINK.call_once(|| make_ok(scratch, &["shared-lib"]));
}

/// A shell command in `dir` with nothing in the environment but PATH and `env`.
fn sh(dir: &Path, script: &str, env: &[(&str, String)]) -> Output {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c").arg(script).current_dir(dir).env_clear();
    cmd.env("PATH", "/usr/bin:/bin");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run sh")
}

/// Every regular file and symlink under `dir`, relative to it, sorted.
fn files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let e = e.unwrap();
            let kind = e.file_type().unwrap();
            if kind.is_dir() {
                stack.push(e.path());
            } else {
                found.push(e.path().strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    found.sort();
    found
}

/// The files `make install install-emu` writes, relative to PREFIX (default sub-paths).
fn expected_layout() -> Vec<String> {
    let mut files = vec![
        format!("lib/libnrtq.so.{VERSION}"),
        "lib/libnrtq.so.0".to_string(),
        "lib/libnrtq.so".to_string(),
        "lib/libnrtq.a".to_string(),
        "lib/pkgconfig/nrtq.pc".to_string(),
        "bin/nrt-emu-model".to_string(),
    ];
    for header in std::fs::read_dir(root().join("include")).unwrap() {
        let name = header.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".h") || name.ends_with(".hpp") {
            files.push(format!("include/nrtq/{name}"));
        }
    }
    for generation in nrt_emu::GENERATIONS {
        for f in ["libnrt.so.1", "libnrt.so", "pkgconfig/libnrt.pc"] {
            files.push(format!("lib/nrt-emu/{generation}/{f}"));
        }
    }
    for rel in files_under(&root().join("nrt-emu/include")) {
        files.push(format!("include/nrt-emu/{rel}"));
    }
    for rel in files_under(&root().join("nrt-emu/models")) {
        files.push(format!("share/nrt-emu/models/{rel}"));
    }
    files.sort();
    files
}

/// Build tests/install_app.c in `dir` with the README's line and run it on `model`;
/// returns the program's stdout after asserting it passed.
fn build_and_run(
    dir: &Path,
    pkg_config_path: String,
    run_env: &[(&str, String)],
    model: &Path,
) -> String {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::copy(root().join("tests/install_app.c"), dir.join("app.c")).unwrap();
    let build = sh(
        dir,
        "cc app.c $(pkg-config --cflags --libs nrtq)",
        &[("PKG_CONFIG_PATH", pkg_config_path)],
    );
    assert!(
        build.status.success(),
        "the README's build line failed:\n{}",
        show(&build)
    );
    let run = sh(dir, &format!("./a.out '{}'", model.display()), run_env);
    let stdout = String::from_utf8_lossy(&run.stdout).to_string();
    assert!(
        run.status.success() && stdout.contains("PASS: 100 requests"),
        "the installed program failed:\n{}",
        show(&run)
    );
    stdout
}

/// The path the program reported for `which` ("libnrtq" or "libnrt").
fn loaded_from(stdout: &str, which: &str) -> PathBuf {
    let prefix = format!("{which}: ");
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("the program did not report {which}:\n{stdout}"));
    std::fs::canonicalize(line).unwrap_or_else(|e| panic!("{line}: {e}"))
}

fn assert_symlink(path: &Path, target: &str) {
    let link = std::fs::read_link(path)
        .unwrap_or_else(|e| panic!("{}: not a symlink ({e})", path.display()));
    assert_eq!(
        link,
        Path::new(target),
        "{} points elsewhere",
        path.display()
    );
}

/// nrtq and the emulator as `make install install-emu PREFIX=<scratch>/prefix` left them.
struct Installed {
    prefix: PathBuf,
    /// PREFIX/lib: libnrtq, and the folder the loader must be told about.
    lib: PathBuf,
    /// The emulator generation `NRT_EMU_API` names.
    generation: String,
    /// nrtq.pc's folder and that generation's libnrt.pc folder, both in the prefix: the
    /// only PKG_CONFIG_PATH a consumer build gets, so nothing can come from the tree.
    pkg_config_path: String,
    /// The installed models, as `pkg-config --variable=models libnrt` names them.
    models: PathBuf,
}

impl Installed {
    /// `PKG_CONFIG_PATH`, then the selected generation and nrtq's folder for the loader
    /// (the prefix is not one the loader searches; libnrt's folder is a RUNPATH).
    fn run_env(&self) -> [(&'static str, String); 3] {
        [
            ("PKG_CONFIG_PATH", self.pkg_config_path.clone()),
            ("LD_LIBRARY_PATH", self.lib.display().to_string()),
            ("NRT_EMU_API", self.generation.clone()),
        ]
    }

    fn libnrtq(&self) -> PathBuf {
        std::fs::canonicalize(self.lib.join(format!("libnrtq.so.{VERSION}"))).unwrap()
    }

    fn libnrt(&self) -> PathBuf {
        let generation = &self.generation;
        std::fs::canonicalize(
            self.prefix
                .join(format!("lib/nrt-emu/{generation}/libnrt.so.1")),
        )
        .unwrap()
    }
}

/// Install this build's nrtq and the emulator into `scratch`'s prefix (without cargo), and
/// check that pkg-config, given only the prefix's folders, finds the installed models.
fn install_nrtq_and_emulator(scratch: &Scratch) -> Installed {
    link_shared_library(scratch);
    let prefix = scratch.path("prefix");
    make_ok(
        scratch,
        &[
            "install",
            "install-emu",
            &format!("PREFIX={}", prefix.display()),
        ],
    );
    let lib = prefix.join("lib");
    let generation = nrt_emu::selected_generation();
    let emu_pc = prefix.join(format!("lib/nrt-emu/{generation}/pkgconfig"));
    let pkg_config_path = format!("{}:{}", lib.join("pkgconfig").display(), emu_pc.display());
    let models = sh(
        &scratch.0,
        "pkg-config --variable=models libnrt",
        &[("PKG_CONFIG_PATH", pkg_config_path.clone())],
    );
    let models = PathBuf::from(String::from_utf8_lossy(&models.stdout).trim());
    assert_eq!(models, prefix.join("share/nrt-emu/models"));
    Installed {
        prefix,
        lib,
        generation,
        pkg_config_path,
        models,
    }
}

#[test]
fn installed_nrtq_and_emulator_build_and_run_a_program_with_pkg_config_alone() {
    let scratch = Scratch::new("emu");
    let installed = install_nrtq_and_emulator(&scratch);
    let prefix = installed.prefix.clone();
    let prefix_arg = format!("PREFIX={}", prefix.display());

    // The layout, file by file, and the library's names.
    assert_eq!(files_under(&prefix), expected_layout(), "installed files");
    let lib = prefix.join("lib");
    assert!(
        std::fs::symlink_metadata(lib.join(format!("libnrtq.so.{VERSION}")))
            .unwrap()
            .is_file()
    );
    assert_symlink(&lib.join("libnrtq.so.0"), &format!("libnrtq.so.{VERSION}"));
    assert_symlink(&lib.join("libnrtq.so"), &format!("libnrtq.so.{VERSION}"));
    let pc = std::fs::read_to_string(lib.join("pkgconfig/nrtq.pc")).unwrap();
    assert!(
        pc.contains(&format!("prefix={}\n", prefix.display())),
        "nrtq.pc:\n{pc}"
    );
    assert!(
        pc.contains(&format!("Version: {VERSION}\n")),
        "nrtq.pc:\n{pc}"
    );
    assert!(!pc.contains('@'), "a placeholder is left in nrtq.pc:\n{pc}");

    // The installed nrt-emu-model works and writes a model the program then runs.
    let app = scratch.path("app");
    std::fs::create_dir_all(&app).unwrap();
    let own_model = app.join("mine.nrtm");
    let tool = sh(
        &app,
        &format!(
            "'{}' add --time-us 5 -o '{}'",
            prefix.join("bin/nrt-emu-model").display(),
            own_model.display()
        ),
        &[],
    );
    assert!(
        tool.status.success(),
        "installed nrt-emu-model failed:\n{}",
        show(&tool)
    );

    let generation = installed.generation.clone();
    let search = installed.pkg_config_path.clone();
    let models = installed.models.clone();

    // nrtq's prefix is not on the loader's path; the emulator's is a RUNPATH in libnrt.pc.
    let run_env = [
        ("LD_LIBRARY_PATH", lib.display().to_string()),
        ("NRT_EMU_API", generation.clone()),
    ];
    for model in [models.join("add_f32.nrtm"), own_model] {
        let stdout = build_and_run(&app, search.clone(), &run_env, &model);
        assert_eq!(loaded_from(&stdout, "libnrtq"), installed.libnrtq());
        assert_eq!(loaded_from(&stdout, "libnrt"), installed.libnrt());
    }

    // The RUNPATH yields to LD_LIBRARY_PATH: the same binary runs on another generation.
    let other = if generation == "2.28" { "2.30" } else { "2.28" };
    let other_dir = prefix.join(format!("lib/nrt-emu/{other}"));
    let switched = sh(
        &app,
        &format!("./a.out '{}'", models.join("add_f32.nrtm").display()),
        &[
            (
                "LD_LIBRARY_PATH",
                format!("{}:{}", lib.display(), other_dir.display()),
            ),
            ("NRT_EMU_API", other.to_string()),
        ],
    );
    assert!(
        switched.status.success(),
        "on {other}:\n{}",
        show(&switched)
    );
    assert_eq!(
        loaded_from(&String::from_utf8_lossy(&switched.stdout), "libnrt"),
        std::fs::canonicalize(other_dir.join("libnrt.so.1")).unwrap()
    );

    // Static linking with what `pkg-config --static` adds: no libnrtq.so needed at run time.
    let static_build = sh(
        &app,
        &format!(
            "cc app.c -o app-static $(pkg-config --cflags nrtq) '{}' $(pkg-config --static --libs nrtq) && \
             readelf -d app-static",
            lib.join("libnrtq.a").display()
        ),
        &[("PKG_CONFIG_PATH", search)],
    );
    assert!(
        static_build.status.success(),
        "static link failed:\n{}",
        show(&static_build)
    );
    let dynamic = String::from_utf8_lossy(&static_build.stdout);
    assert!(
        !dynamic.contains("libnrtq"),
        "the static program still needs libnrtq:\n{dynamic}"
    );
    let run = sh(
        &app,
        &format!("./app-static '{}'", models.join("add_f32.nrtm").display()),
        &[("NRT_EMU_API", generation)],
    );
    assert!(
        run.status.success(),
        "the static program failed:\n{}",
        show(&run)
    );

    make_ok(&scratch, &["uninstall", &prefix_arg]);
    assert_eq!(
        files_under(&prefix),
        Vec::<String>::new(),
        "files left after uninstall"
    );
}

#[test]
fn the_same_line_builds_against_a_neuron_install_layout() {
    let scratch = Scratch::new("neuron");
    link_shared_library(&scratch);
    let prefix = scratch.path("prefix");
    let prefix_arg = format!("PREFIX={}", prefix.display());
    // Only to borrow its headers, library and models for the fake Neuron install.
    let emu = scratch.path("emu");
    make_ok(
        &scratch,
        &["install-emu", &format!("PREFIX={}", emu.display())],
    );

    // /opt/aws/neuron's layout: include/nrt/*.h, lib/libnrt.so.1 and lib/libnrt.so.
    let generation = nrt_emu::selected_generation();
    let neuron = scratch.path("opt/aws/neuron");
    let copy = sh(
        &scratch.0,
        &format!(
            "mkdir -p '{n}/lib' '{n}/include' && cp -R '{e}/include/nrt-emu/nrt' '{n}/include/' && \
             cp '{e}/lib/nrt-emu/{generation}/libnrt.so.1' '{n}/lib/' && ln -s libnrt.so.1 '{n}/lib/libnrt.so'",
            n = neuron.display(),
            e = emu.display()
        ),
        &[],
    );
    assert!(copy.status.success(), "{}", show(&copy));

    // A wrong NEURON_ROOT is refused with what to set.
    let wrong = make(
        &scratch,
        &[
            "install-neuron-pc",
            &prefix_arg,
            "NEURON_ROOT=/nonexistent/neuron",
        ],
    );
    assert!(
        !wrong.status.success(),
        "install-neuron-pc accepted a NEURON_ROOT without libnrt"
    );
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("set NEURON_ROOT"),
        "the refusal does not say what to do:\n{}",
        show(&wrong)
    );

    let neuron_arg = format!("NEURON_ROOT={}", neuron.display());
    make_ok(
        &scratch,
        &["install", "install-neuron-pc", &prefix_arg, &neuron_arg],
    );
    let lib = prefix.join("lib");
    // Only nrtq's own pkgconfig folder: libnrt.pc there now describes the Neuron install.
    let stdout = build_and_run(
        &scratch.path("app"),
        lib.join("pkgconfig").display().to_string(),
        &[
            ("LD_LIBRARY_PATH", lib.display().to_string()),
            ("NRT_EMU_API", generation),
        ],
        &emu.join("share/nrt-emu/models/add_f32.nrtm"),
    );
    let neuron_libnrt = std::fs::canonicalize(neuron.join("lib/libnrt.so.1")).unwrap();
    assert_eq!(loaded_from(&stdout, "libnrt"), neuron_libnrt);

    // The C++ line, and the Go build, against the same PKG_CONFIG_PATH.
    let model = emu.join("share/nrt-emu/models/add_f32.nrtm");
    let stdout = build_and_run_cpp(
        &scratch.path("app-cpp"),
        &[
            (
                "PKG_CONFIG_PATH",
                lib.join("pkgconfig").display().to_string(),
            ),
            ("LD_LIBRARY_PATH", lib.display().to_string()),
            ("NRT_EMU_API", nrt_emu::selected_generation()),
        ],
        &model,
    );
    assert_eq!(loaded_from(&stdout, "libnrt"), neuron_libnrt);
    if go_support::have_go() {
        let exe = build_go_example(
            &scratch.path("app-go"),
            &lib.join("pkgconfig").display().to_string(),
            &neuron.join("lib"),
        );
        let loaded = run_go_example(&exe, &model, &lib);
        assert!(
            loaded.contains(&neuron_libnrt),
            "the Go program did not load the Neuron install's libnrt: {loaded:#?}"
        );
    }

    make_ok(&scratch, &["uninstall", &prefix_arg]);
    assert_eq!(
        files_under(&prefix),
        Vec::<String>::new(),
        "files left after uninstall"
    );
}

#[test]
fn destdir_stages_the_final_paths() {
    let scratch = Scratch::new("destdir");
    link_shared_library(&scratch);
    let stage = scratch.path("stage");
    let args = [
        format!("DESTDIR={}", stage.display()),
        "PREFIX=/opt/nrtq".to_string(),
        "LIBDIR=/opt/nrtq/lib64".to_string(),
        "INCLUDEDIR=/opt/nrtq/inc".to_string(),
    ];
    let mut install: Vec<&str> = vec!["install", "install-emu"];
    install.extend(args.iter().map(String::as_str));
    make_ok(&scratch, &install);

    let staged = stage.join("opt/nrtq");
    assert!(staged.join(format!("lib64/libnrtq.so.{VERSION}")).is_file());
    assert!(staged.join("inc/nrtq/nrtq.h").is_file());
    assert!(staged.join("inc/nrt-emu/nrt/nrt.h").is_file());
    assert!(staged.join("lib64/nrt-emu/2.30/libnrt.so.1").is_file());
    let pc = std::fs::read_to_string(staged.join("lib64/pkgconfig/nrtq.pc")).unwrap();
    assert!(
        pc.contains("libdir=/opt/nrtq/lib64\n") && pc.contains("includedir=/opt/nrtq/inc\n"),
        "nrtq.pc:\n{pc}"
    );
    let emu_pc =
        std::fs::read_to_string(staged.join("lib64/nrt-emu/2.30/pkgconfig/libnrt.pc")).unwrap();
    assert!(
        emu_pc.contains("libdir=/opt/nrtq/lib64/nrt-emu/2.30\n"),
        "libnrt.pc:\n{emu_pc}"
    );
    for (name, text) in [("nrtq.pc", &pc), ("libnrt.pc", &emu_pc)] {
        assert!(
            !text.contains(&*stage.to_string_lossy()),
            "{name} names the staging folder:\n{text}"
        );
    }

    let mut uninstall: Vec<&str> = vec!["uninstall"];
    uninstall.extend(args.iter().map(String::as_str));
    make_ok(&scratch, &uninstall);
    assert_eq!(
        files_under(&stage),
        Vec::<String>::new(),
        "files left after uninstall"
    );
}

#[test]
fn install_before_a_build_names_the_missing_file_and_the_command() {
    let scratch = Scratch::new("unbuilt");
    let out = make(
        &scratch,
        &[
            "install",
            "PROFILE=never-built",
            &format!("PREFIX={}", scratch.path("prefix").display()),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "install succeeded without a build");
    assert!(
        stderr.contains("target/never-built/") && stderr.contains("make PROFILE=never-built"),
        "the refusal does not name the file and the command:\n{}",
        show(&out)
    );
    assert!(
        !scratch.path("prefix").exists(),
        "a refused install still wrote into PREFIX"
    );
}

/// The paths (made absolute) of the headers a compiler line in `dir` reads, apart from
/// system headers, from `c++ -MM` (its Makefile rule).
fn headers_read(dir: &Path, compile: &str, env: &[(&str, String)]) -> Vec<PathBuf> {
    let deps = sh(dir, compile, env);
    assert!(deps.status.success(), "{compile}:\n{}", show(&deps));
    String::from_utf8_lossy(&deps.stdout)
        .split_whitespace()
        .filter(|t| *t != "\\" && !t.ends_with(':') && !t.ends_with(".cpp"))
        .map(|t| std::fs::canonicalize(dir.join(t)).unwrap_or_else(|e| panic!("{t}: {e}")))
        .collect()
}

/// Build tests/install_app.cpp in `dir` with the README's C++ line and run it on `model`
/// (`env` gives PKG_CONFIG_PATH and what the run needs); returns the program's stdout
/// after asserting it passed.
fn build_and_run_cpp(dir: &Path, env: &[(&str, String)], model: &Path) -> String {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::copy(root().join("tests/install_app.cpp"), dir.join("app.cpp")).unwrap();
    // The build sees PATH and PKG_CONFIG_PATH only, as a user's shell would give it.
    let pkg_config_only: Vec<(&str, String)> = env
        .iter()
        .filter(|(key, _)| *key == "PKG_CONFIG_PATH")
        .cloned()
        .collect();
    assert_eq!(pkg_config_only.len(), 1, "no PKG_CONFIG_PATH in {env:?}");
    let build = sh(
        dir,
        "c++ -std=c++17 -Wall -Wextra -Werror app.cpp $(pkg-config --cflags --libs nrtq)",
        &pkg_config_only,
    );
    assert!(
        build.status.success(),
        "the README's C++ build line failed:\n{}",
        show(&build)
    );
    let run = sh(dir, &format!("./a.out '{}'", model.display()), env);
    let stdout = String::from_utf8_lossy(&run.stdout).to_string();
    assert!(
        run.status.success()
            && stdout.contains(
                "PASS: 100 requests (50 through futures, 50 through callables), every output checked"
            ),
        "the installed C++ program failed:\n{}",
        show(&run)
    );
    stdout
}

#[test]
fn installed_cpp_headers_build_and_run_a_program_with_pkg_config_alone() {
    let scratch = Scratch::new("cpp");
    let installed = install_nrtq_and_emulator(&scratch);
    let app = scratch.path("app");
    let env = installed.run_env();
    let stdout = build_and_run_cpp(&app, &env, &installed.models.join("add_f32.nrtm"));
    assert_eq!(loaded_from(&stdout, "libnrtq"), installed.libnrtq());
    assert_eq!(loaded_from(&stdout, "libnrt"), installed.libnrt());

    // Every header of ours and libnrt's came from the prefix, none from the repository.
    let headers = headers_read(
        &app,
        "c++ -std=c++17 -MM app.cpp $(pkg-config --cflags nrtq)",
        &env,
    );
    let include = std::fs::canonicalize(installed.prefix.join("include")).unwrap();
    for wanted in [
        "nrtq/nrtq.hpp",
        "nrtq/nrtq_nrt.hpp",
        "nrtq/nrtq.h",
        "nrt-emu/nrt/nrt.h",
        "nrt-emu/nrt/nrt_experimental.h",
    ] {
        assert!(
            headers.contains(&include.join(wanted)),
            "{wanted} not read from {}: {headers:#?}",
            include.display()
        );
    }
    let repo = std::fs::canonicalize(root()).unwrap();
    for header in &headers {
        assert!(
            header.starts_with(&include) && !header.starts_with(&repo),
            "a header from outside the prefix: {}",
            header.display()
        );
    }

    // The README's run line: the model found through pkg-config's `models` variable.
    let run = sh(
        &app,
        "./a.out \"$(pkg-config --variable=models libnrt)/add_f32.nrtm\"",
        &env,
    );
    assert!(
        run.status.success() && String::from_utf8_lossy(&run.stdout).contains("PASS: 100 requests"),
        "the README's C++ run line failed:\n{}",
        show(&run)
    );
}

/// The files the dynamic loader ran initialisers of, from `LD_DEBUG=files` output
/// ("calling init: /path/libx.so.1"), made absolute.
fn libraries_initialised(ld_debug: &str) -> Vec<PathBuf> {
    ld_debug
        .lines()
        .filter_map(|l| l.split_once("calling init: ").map(|(_, path)| path.trim()))
        .filter_map(|path| std::fs::canonicalize(path).ok())
        .collect()
}

/// examples-go copied into `dir` as a user's own module, its replace directive naming this
/// checkout's go/ by absolute path as a user's go.mod would (the module is not published),
/// built with `go build` and PKG_CONFIG_PATH set to `pkg_config_path` alone. Asserts the
/// program's RUNPATH holds `libnrt_dir` and nothing of the repository; returns the program.
fn build_go_example(dir: &Path, pkg_config_path: &str, libnrt_dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::copy(root().join("examples-go/main.go"), dir.join("main.go")).unwrap();
    let go_mod = std::fs::read_to_string(root().join("examples-go/go.mod")).unwrap();
    let relative = "replace nrtq.dev/go/nrtq => ../go\n";
    assert!(
        go_mod.contains(relative),
        "examples-go/go.mod changed its replace directive:\n{go_mod}"
    );
    let absolute = format!(
        "replace nrtq.dev/go/nrtq => {}\n",
        root().join("go").display()
    );
    std::fs::write(dir.join("go.mod"), go_mod.replace(relative, &absolute)).unwrap();

    // A cgo cache key naming this install (its pkg-config folders, which hold the process
    // id): Go's build cache does not notice changed pkg-config output, and a package built
    // against an earlier prefix would link from there.
    let cache_key: String = pkg_config_path
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let build = go_support::go_against(
        dir,
        &["build", "-o", "reapdemo", "."],
        pkg_config_path,
        &cache_key,
    )
    .output()
    .expect("run go build");
    go_support::check("go build (examples-go, installed nrtq)", &build);

    let dynamic = sh(dir, "readelf -d reapdemo", &[]);
    let dynamic = String::from_utf8_lossy(&dynamic.stdout).to_string();
    let runpath = dynamic
        .lines()
        .find(|l| l.contains("(RUNPATH)") || l.contains("(RPATH)"))
        .unwrap_or_else(|| panic!("the Go program has no RUNPATH:\n{dynamic}"));
    assert!(
        runpath.contains(&libnrt_dir.display().to_string())
            && !dynamic.contains(&root().display().to_string()),
        "the Go program's dynamic section:\n{dynamic}"
    );
    dir.join("reapdemo")
}

/// Run the Go example on `model` with `LD_LIBRARY_PATH=lib`; asserts it passed and
/// returns the files the loader initialised.
fn run_go_example(exe: &Path, model: &Path, lib: &Path) -> Vec<PathBuf> {
    let generation = nrt_emu::selected_generation();
    let run = std::process::Command::new(exe)
        .arg("-model")
        .arg(model)
        .args(["-producers", "2", "-requests", "100"])
        .current_dir(exe.parent().unwrap())
        .env_clear()
        .env("LD_LIBRARY_PATH", lib)
        .env("NRT_EMU_API", &generation)
        .env("LD_DEBUG", "files")
        .output()
        .expect("run the Go program");
    let stdout = String::from_utf8_lossy(&run.stdout).to_string();
    let stderr = String::from_utf8_lossy(&run.stderr).to_string();
    assert!(
        run.status.success()
            && stdout.contains("PASS: nrtq_go 200 of 200 requests verified")
            && stdout.contains(&format!("async generation {}", generation.replace('.', ""))),
        "the installed Go program failed on {generation}:\n{stdout}\n{}",
        stderr
            .lines()
            .filter(|l| !l.contains("file=") && !l.contains("calling "))
            .collect::<Vec<_>>()
            .join("\n")
    );
    libraries_initialised(&stderr)
}

#[test]
fn installed_nrtq_builds_and_runs_the_go_example_outside_the_tree() {
    if !go_support::have_go() {
        return;
    }
    let scratch = Scratch::new("go");
    let installed = install_nrtq_and_emulator(&scratch);
    let exe = build_go_example(
        &scratch.path("reapdemo"),
        &installed.pkg_config_path,
        installed.libnrt().parent().unwrap(),
    );
    let loaded = run_go_example(&exe, &installed.models.join("add_f32.nrtm"), &installed.lib);
    for wanted in [installed.libnrtq(), installed.libnrt()] {
        assert!(
            loaded.contains(&wanted),
            "{} was not loaded; the loader initialised {loaded:#?}",
            wanted.display()
        );
    }
}
