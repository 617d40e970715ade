//! Every fault kind of ASYNC.md, from model files and from NRT_EMU_FAULTS; a dead XU;
//! and the Chrome trace written at close. Run in every generation.

mod async_support;
use async_support::*;
use neuron_sys::*;

/// The final status of request `seq` (tracker in 2.28, the status slot in 2.29+).
fn statuses(sched: &Sched, ids: &[u64], rets: &[u32]) -> Vec<u32> {
    if is_gen_a() {
        let errs = sched.errors();
        ids.iter()
            .map(|id| {
                errs.iter()
                    .find(|e| e.seq_id == *id)
                    .map_or(NRT_SUCCESS, |e| e.error_code as u32)
            })
            .collect()
    } else {
        rets.iter()
            // SAFETY: the status slot is alive (owned by this test) and aligned; the emulator writes it only once, before the completion this test already observed.
            .map(|r| unsafe { std::ptr::read_volatile(r) })
            .collect()
    }
}

#[test]
fn error_faults_by_number_from_model_and_environment() {
    let _l = lock();
    let _s = Session::start(&[(
        "NRT_EMU_FAULTS",
        "error seq=4 code=NRT_EXEC_COMPLETED_WITH_ERR xu=compute",
    )]);
    let m = load(&add_model(
        "faulty",
        16,
        10_000,
        &["error every=2 code=1002"],
    ));
    let io = AddIo::new(m, 16);
    let sched = Sched::new();
    let mut rets = [0u32; 5];
    let base = rets.as_mut_ptr();
    let mut ids = Vec::new();
    for i in 0..5 {
        // SAFETY: `base` points at a live status array (kept until completion); the FFI call gets live handles.
        ids.push(sched.execute(m, &io, unsafe { base.add(i) }).unwrap());
    }
    wait(ids[4]);
    // 2 and 4 by the model's rule; the environment's seq=4 also matches 4 (an error
    // rule fires in file order, model rules after environment rules).
    let got = statuses(&sched, &ids, &rets);
    assert_eq!(got[0], NRT_SUCCESS);
    assert_eq!(got[1], NRT_EXEC_BAD_INPUT);
    assert_eq!(got[2], NRT_SUCCESS);
    assert!(got[3] == NRT_EXEC_COMPLETED_WITH_ERR || got[3] == NRT_EXEC_BAD_INPUT);
    assert_eq!(got[4], NRT_SUCCESS);
    assert_eq!(stats(0, xu_compute(), 0).errors, 2);
}

#[test]
fn reject_fails_the_schedule_call_and_consumes_nothing() {
    let _l = lock();
    let _s = Session::start(&[]);
    let m = load(&add_model("rej", 16, 1_000, &["reject nth=2 code=4"]));
    let io = AddIo::new(m, 16);
    let sched = Sched::new();
    let mut rets = [0u32; 3];
    let a = sched.execute(m, &io, &mut rets[0]).unwrap();
    assert_eq!(sched.execute(m, &io, &mut rets[1]), Err(NRT_RESOURCE));
    let b = sched.execute(m, &io, &mut rets[2]).unwrap();
    assert_eq!(
        nrta_seq_get_seq_num(b),
        nrta_seq_get_seq_num(a) + 1,
        "no number consumed"
    );
    wait(b);
}

#[test]
fn a_dead_xu_refuses_work_and_fails_what_it_held() {
    let _l = lock();
    // The write unit of core 0 dies after 2 requests; compute keeps working.
    let _s = Session::start(&[(
        "NRT_EMU_FAULTS",
        "unrecoverable after=2 xu=write lnc=0 queue=0",
    )]);
    let t = tensor(1 << 20, c"t");
    let buf = vec![1u8; 1 << 20]; // ~67 µs per write at 16 GB/s
    let sched = Sched::new();
    let mut rets = [0u32; 5];
    let base = rets.as_mut_ptr();
    let mut ids = Vec::new();
    for i in 0..5 {
        // SAFETY: `base` points at a live status array (kept until completion); the FFI call gets live handles.
        ids.push(sched.write(t, &buf, 0, unsafe { base.add(i) }).unwrap());
    }
    wait(ids[4]);
    let got = statuses(&sched, &ids, &rets);
    assert_eq!(&got[..2], &[NRT_SUCCESS, NRT_SUCCESS]);
    assert_eq!(
        got[2], NRT_EXEC_UNIT_UNRECOVERABLE,
        "request 3 is the fatal one"
    );
    assert_eq!(
        &got[3..],
        &[NRT_EXEC_UNIT_UNRECOVERABLE; 2],
        "in-flight work fails too"
    );
    let mut r = 0u32;
    assert_eq!(
        sched.write(t, &buf, 0, &mut r),
        Err(NRT_EXEC_UNIT_UNRECOVERABLE)
    );
    let st = stats(0, xu_write(), 0);
    assert_eq!((st.dead, st.completed, st.errors), (1, 5, 3));
    // Another queue of the same type, and compute, keep working.
    let q1 = sched.write(t, &buf, 1, &mut r).unwrap();
    wait(q1);
    let m = load(&add_model("m", 16, 1_000, &[]));
    let io = AddIo::new(m, 16);
    let e = sched.execute(m, &io, &mut r).unwrap();
    wait(e);
    assert_eq!(io.read_out()[5], 15.0);
}

#[test]
fn a_hung_request_never_completes_until_close() {
    let _l = lock();
    let s = Session::start(&[]);
    let m = load(&add_model("hang", 16, 1_000, &["hang seq=2"]));
    let io = AddIo::new(m, 16);
    let sched = Sched::new();
    let mut rets = Box::new([0u32; 3]);
    let base = rets.as_mut_ptr();
    let ids: Vec<_> = (0..3)
        // SAFETY: `base` points at a live status array (kept until completion); the FFI call gets live handles.
        .map(|i| sched.execute(m, &io, unsafe { base.add(i) }).unwrap())
        .collect();
    wait(ids[0]);
    // The next two would be done after ~3 µs; give them far longer, counted by the
    // device's own timeline (the first completed, so the unit is running).
    let t0 = std::time::Instant::now();
    while t0.elapsed() < std::time::Duration::from_millis(20) {
        std::thread::yield_now();
    }
    assert!(
        !done(ids[1]) && !done(ids[2]),
        "the hung request blocks its queue"
    );
    assert_eq!(stats(0, xu_compute(), 0).in_flight, 2);
    drop(s);
    if is_gen_a() {
        let e = sched.errors();
        assert_eq!(
            e.iter().map(|e| e.seq_id).collect::<Vec<_>>(),
            vec![ids[1], ids[2]]
        );
        assert!(e.iter().all(|e| e.error_code == u64::from(NRT_CLOSED)));
    } else {
        let got: Vec<u32> = (0..3)
            // SAFETY: `base` points at a live array of the statuses; the index is within it.
            .map(|i| unsafe { std::ptr::read_volatile(base.add(i)) })
            .collect();
        assert_eq!(got, vec![NRT_SUCCESS, NRT_CLOSED, NRT_CLOSED]);
    }
}

#[test]
fn a_malformed_fault_line_refuses_the_model() {
    let _l = lock();
    let _s = Session::start(&[]);
    let bytes = add_model("bad", 16, 1_000, &["explode seq=1"])
        .to_bytes()
        .unwrap();
    let mut m = std::ptr::null_mut();
    // SAFETY: an FFI call into the library under test with live handles it returned and valid, writable locals.
    let s = unsafe { (emu().lib.core.nrt_load)(bytes.as_ptr().cast(), bytes.len(), 0, -1, &mut m) };
    assert_eq!(
        s, NRT_INVALID,
        "a fault the device cannot apply is refused at load"
    );
    assert!(m.is_null());
}

/// A tiny JSON reader: enough to check the trace is well-formed and to count events.
mod json {
    #[derive(Debug)]
    #[allow(dead_code, reason = "payloads are read through Debug")]
    pub enum V {
        Null,
        Bool(bool),
        Num(f64),
        Str(String),
        Arr(Vec<V>),
        Obj(Vec<(String, V)>),
    }

    pub fn parse(s: &str) -> Result<V, String> {
        let b = s.as_bytes();
        let mut i = 0;
        let v = value(b, &mut i)?;
        ws(b, &mut i);
        if i != b.len() {
            return Err(format!("trailing data at {i}"));
        }
        Ok(v)
    }

    fn ws(b: &[u8], i: &mut usize) {
        while *i < b.len() && b[*i].is_ascii_whitespace() {
            *i += 1;
        }
    }

    fn value(b: &[u8], i: &mut usize) -> Result<V, String> {
        ws(b, i);
        match b.get(*i) {
            Some(b'{') => {
                *i += 1;
                let mut o = Vec::new();
                ws(b, i);
                if b.get(*i) == Some(&b'}') {
                    *i += 1;
                    return Ok(V::Obj(o));
                }
                loop {
                    ws(b, i);
                    let V::Str(k) = value(b, i)? else {
                        return Err(format!("key expected at {i}"));
                    };
                    ws(b, i);
                    if b.get(*i) != Some(&b':') {
                        return Err(format!(": expected at {i}"));
                    }
                    *i += 1;
                    o.push((k, value(b, i)?));
                    ws(b, i);
                    match b.get(*i) {
                        Some(b',') => *i += 1,
                        Some(b'}') => {
                            *i += 1;
                            return Ok(V::Obj(o));
                        }
                        _ => return Err(format!(", or }} expected at {i}")),
                    }
                }
            }
            Some(b'[') => {
                *i += 1;
                let mut a = Vec::new();
                ws(b, i);
                if b.get(*i) == Some(&b']') {
                    *i += 1;
                    return Ok(V::Arr(a));
                }
                loop {
                    a.push(value(b, i)?);
                    ws(b, i);
                    match b.get(*i) {
                        Some(b',') => *i += 1,
                        Some(b']') => {
                            *i += 1;
                            return Ok(V::Arr(a));
                        }
                        _ => return Err(format!(", or ] expected at {i}")),
                    }
                }
            }
            Some(b'"') => {
                *i += 1;
                let mut s = String::new();
                while let Some(&c) = b.get(*i) {
                    *i += 1;
                    match c {
                        b'"' => return Ok(V::Str(s)),
                        b'\\' => {
                            let e = *b.get(*i).ok_or("bad escape")?;
                            *i += 1;
                            match e {
                                b'u' => {
                                    let h = std::str::from_utf8(&b[*i..*i + 4])
                                        .map_err(|e| e.to_string())?;
                                    s.push(
                                        char::from_u32(
                                            u32::from_str_radix(h, 16)
                                                .map_err(|e| e.to_string())?,
                                        )
                                        .unwrap_or('?'),
                                    );
                                    *i += 4;
                                }
                                b'n' => s.push('\n'),
                                b't' => s.push('\t'),
                                other => s.push(other as char),
                            }
                        }
                        c if c < 0x20 => return Err("control character in string".into()),
                        c => s.push(c as char),
                    }
                }
                Err("unterminated string".into())
            }
            Some(b't') if b[*i..].starts_with(b"true") => {
                *i += 4;
                Ok(V::Bool(true))
            }
            Some(b'f') if b[*i..].starts_with(b"false") => {
                *i += 5;
                Ok(V::Bool(false))
            }
            Some(b'n') if b[*i..].starts_with(b"null") => {
                *i += 4;
                Ok(V::Null)
            }
            Some(_) => {
                let start = *i;
                while *i < b.len()
                    && matches!(b[*i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    *i += 1;
                }
                std::str::from_utf8(&b[start..*i])
                    .ok()
                    .and_then(|t| t.parse().ok())
                    .map(V::Num)
                    .ok_or_else(|| format!("bad value at {start}"))
            }
            None => Err("unexpected end".into()),
        }
    }
}

#[test]
fn the_trace_has_one_complete_event_per_request() {
    let _l = lock();
    let path = std::env::temp_dir().join(format!("nrt-emu-trace-{}.json", std::process::id()));
    let p = path.to_str().unwrap().to_string();
    let s = Session::start(&[("NRT_EMU_TRACE", &p)]);
    let m = load(&add_model(
        "traced_m",
        16,
        5_000,
        &["error seq=2 code=1004"],
    ));
    let io = AddIo::new(m, 16);
    let t = tensor(4096, c"t");
    let buf = vec![0u8; 4096];
    let sched = Sched::new();
    let mut rets = Box::new([0u32; 5]);
    let base = rets.as_mut_ptr();
    let mut ids = Vec::new();
    for i in 0..3 {
        // SAFETY: `base` points at a live status array (kept until completion); the FFI call gets live handles.
        ids.push(sched.execute(m, &io, unsafe { base.add(i) }).unwrap());
    }
    for i in 3..5 {
        // SAFETY: `base` points at a live status array (kept until completion); the FFI call gets live handles.
        ids.push(sched.write(t, &buf, 0, unsafe { base.add(i) }).unwrap());
    }
    for id in &ids {
        wait(*id);
    }
    drop(s);
    let text = std::fs::read_to_string(&path).expect("trace written at nrt_close");
    let _ = std::fs::remove_file(&path);
    let json::V::Obj(top) = json::parse(&text).expect("valid JSON") else {
        panic!("object")
    };
    let Some((_, json::V::Arr(events))) = top.iter().find(|(k, _)| k == "traceEvents") else {
        panic!("traceEvents array")
    };
    let field = |e: &json::V, name: &str| -> Option<String> {
        let json::V::Obj(o) = e else { return None };
        o.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| format!("{v:?}"))
    };
    let complete: Vec<_> = events
        .iter()
        .filter(|e| field(e, "ph").as_deref() == Some("Str(\"X\")"))
        .collect();
    assert_eq!(complete.len(), 5, "one complete event per request");
    let tracks: std::collections::HashSet<_> = complete.iter().map(|e| field(e, "tid")).collect();
    assert_eq!(
        tracks.len(),
        2,
        "compute and write each have their own track"
    );
    let names = events
        .iter()
        .filter(|e| field(e, "name").as_deref() == Some("Str(\"thread_name\")"))
        .count();
    assert!(names >= 2, "tracks are named");
    assert!(
        text.contains("\"status\":1004"),
        "the failed request carries its status"
    );
}
