#!/usr/bin/env python3
"""Build cost of the #[sse] macro (issue 4): the same 20 handlers written with #[sse] and by
hand on the runtime, each crate rebuilt after `touch` (dependencies already built), debug and
release, medians of R runs. Usage: python3 bench/build-cost/run.py [R]   (from the repo root)
"""
import os, statistics, subprocess, sys, tempfile, time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
APP_TY = ("App<impl actix_web::dev::ServiceFactory<actix_web::dev::ServiceRequest, Config = (), "
          "Response = actix_web::dev::ServiceResponse, Error = actix_web::Error, InitError = ()>>")


def handlers(macro: bool) -> str:
    if macro:
        out = ["use actix_sse::prelude::*;", "use actix_web::{web, App};", "use std::time::Duration;", ""]
    else:
        out = ["use actix_sse::{Event, LastEventId, SendError, Sse};",
               "use actix_web::{web, App, Responder};", "use std::time::Duration;", ""]
    for i in range(20):
        if macro:
            out.append(f'''#[sse("/events{i}/{{room}}", heartbeat = "10s", retry = "3s")]
async fn events{i}(room: web::Path<String>, last: LastEventId) -> Result<(), SendError> {{
    let start = last.as_deref().and_then(|id| id.parse::<u32>().ok()).unwrap_or(0);
    for n in start..start + 6 {{
        send!(format!("{{room}} #{{n}} from handler {i}"), id = n)?;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }}
    send!(Event::data("bye").event("end"));
    Ok(())
}}
''')
        else:
            out.append(f'''async fn events{i}(room: web::Path<String>, last: LastEventId) -> impl Responder {{
    Sse::from_fn(move |tx| async move {{
        let start = last.as_deref().and_then(|id| id.parse::<u32>().ok()).unwrap_or(0);
        for n in start..start + 6 {{
            tx.send(Event::data(format!("{{room}} #{{n}} from handler {i}")).id(n)).await?;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }}
        if let Err(e) = tx.send(Event::data("bye").event("end")).await {{
            eprintln!("{{e}}");
        }}
        Ok::<(), SendError>(())
    }})
    .heartbeat(Duration::from_secs(10))
    .retry(Duration::from_secs(3))
}}
''')
    out.append(f"pub fn app() -> {APP_TY} {{")
    if macro:
        out.append("    App::new()" + "".join(f".service(events{i})" for i in range(20)))
    else:
        out.append("    App::new()" + "".join(
            f'.service(web::resource("/events{i}/{{room}}").name("events{i}")'
            f'.guard(actix_web::guard::Get()).to(events{i}))' for i in range(20)))
    out.append("}")
    return "\n".join(out) + "\n"


def main() -> None:
    work = tempfile.mkdtemp(prefix="sse-build-cost-")
    with open(os.path.join(work, "Cargo.toml"), "w") as f:
        f.write('[workspace]\nmembers = ["with-macro", "hand-written"]\nresolver = "2"\n')
    for name, macro in (("with-macro", True), ("hand-written", False)):
        os.makedirs(os.path.join(work, name, "src"))
        crate = name.replace("-", "_")
        with open(os.path.join(work, name, "Cargo.toml"), "w") as f:
            f.write(f'[package]\nname = "{name}"\nversion = "0.0.0"\nedition = "2021"\npublish = false\n\n'
                    f'[dependencies]\nactix-sse = {{ path = "{ROOT}" }}\n'
                    'actix-web = { version = "4", default-features = false, features = ["macros"] }\n'
                    'actix-rt = "2"\ntokio = { version = "1", features = ["time"] }\n')
        with open(os.path.join(work, name, "src", "lib.rs"), "w") as f:
            f.write(handlers(macro))
        with open(os.path.join(work, name, "src", "main.rs"), "w") as f:
            f.write("#[actix_web::main]\nasync fn main() -> std::io::Result<()> {\n"
                    f"    actix_web::HttpServer::new({crate}::app).bind((\"127.0.0.1\", 0))?.run().await\n}}\n")
    env = dict(os.environ, CARGO_TARGET_DIR=os.path.join(work, "target"))
    print(f"building dependencies in {work} ...", flush=True)
    for profile in ([], ["--release"]):
        subprocess.run(["cargo", "build", "-q", "--workspace", *profile], cwd=work, env=env, check=True)
    for label, profile in (("debug", []), ("release", ["--release"])):
        times = {"with-macro": [], "hand-written": []}
        for _ in range(RUNS):
            for name in times:
                os.utime(os.path.join(work, name, "src", "lib.rs"))
                start = time.monotonic()
                subprocess.run(["cargo", "build", "-q", "-p", name, *profile], cwd=work, env=env, check=True)
                times[name].append(time.monotonic() - start)
        m, h = statistics.median(times["with-macro"]), statistics.median(times["hand-written"])
        print(f"{label:8} 20 handlers: #[sse] {m:.2f} s, hand-written {h:.2f} s, ratio {m / h:.2f}x "
              f"(medians of {RUNS}; target <= 1.2x)")


if __name__ == "__main__":
    main()
