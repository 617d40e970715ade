//! Pipelines on the pure-Rust mock device (no libnrt): the stage mechanism itself. Every
//! mock unit is its own XU with the configured service time, so these check the engine's
//! moving of requests from ring to ring, the device slots, per-stage counts, a failing
//! stage, a dead stage and chains, independently of the emulator.
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nrtq::backend::mock::{MockConfig, MockDevice};
use nrtq::{
    Completion, Handle, HostInput, HostOutput, PipelineConfig, Queue, QueueConfig, Runtime, Stage,
    Status, TensorRef,
};

const WATCHDOG: Duration = Duration::from_secs(30);

type Record = Arc<Mutex<Vec<Completion>>>;

fn pipeline(
    cfg: MockConfig,
    models: usize,
    pcfg: PipelineConfig,
) -> (Runtime, Arc<MockDevice>, Queue, Record) {
    let dev = MockDevice::new(cfg);
    let rt = Runtime::with_device(dev.clone()).expect("runtime");
    let record: Record = Arc::default();
    let r = record.clone();
    let qcfg = QueueConfig {
        backlog: 100_000,
        on_complete: Some(Arc::new(move |c: &Completion| r.lock().unwrap().push(*c))),
        ..QueueConfig::default()
    };
    let handles: Vec<Handle> = (0..models).map(|k| Handle(0x100 + k)).collect();
    let q = rt.create_pipeline(&handles, qcfg, &pcfg).expect("pipeline");
    (rt, dev, q, record)
}

/// Submit `n` requests (the mock's one 4-byte input "x" and output "y") and drain.
fn run(q: &Queue, n: usize, record: &Record) -> Vec<Completion> {
    let input = vec![[0u8; 4]; n];
    let mut output = vec![[0u8; 4]; n];
    for (i, (inp, out)) in input.iter().zip(output.iter_mut()).enumerate() {
        let ins = [HostInput {
            tensor: TensorRef::Name("x"),
            data: inp.as_ptr(),
            len: 4,
        }];
        let outs = [HostOutput {
            tensor: TensorRef::Index(0),
            data: out.as_mut_ptr(),
            len: 4,
        }];
        // SAFETY: the mock moves no bytes; the buffers outlive the drain anyway.
        unsafe { q.submit_host(&ins, &outs, i as u64, None) }.expect("submit");
    }
    q.drain(Some(WATCHDOG)).expect("drain");
    std::mem::take(&mut *record.lock().unwrap())
}

#[test]
fn requests_move_through_every_stage_once_and_give_their_slots_back() {
    let (rt, dev, q, record) = pipeline(MockConfig::default(), 1, PipelineConfig::default());
    let done = run(&q, 500, &record);
    let tickets: Vec<u64> = done.iter().map(|c| c.ticket).collect();
    assert_eq!(
        tickets,
        (1..=500).collect::<Vec<_>>(),
        "once each, in order"
    );
    assert!(done
        .iter()
        .all(|c| c.status == Status::Ok && c.stage.is_none()));
    let stages = q.stage_stats();
    assert_eq!(
        stages
            .iter()
            .map(|s| (s.stage, s.retired))
            .collect::<Vec<_>>(),
        [
            (Stage::Write, 500),
            (Stage::Execute, 500),
            (Stage::Read, 500)
        ]
    );
    // One mock XU per stage, each issued every request once and read each status once.
    for i in 0..3 {
        assert_eq!(dev.xu(i).issued(), 500, "unit {i}");
        assert!(dev.xu(i).max_status_reads() <= 1, "unit {i}");
    }
    let (slots, free) = q.device_slots().unwrap();
    assert_eq!(slots, free);
    q.destroy(WATCHDOG).unwrap();
    drop(rt);
}

#[test]
fn a_chain_of_three_models_runs_three_executions_per_request() {
    let link = |model| nrtq::Link {
        model,
        input: nrtq::TensorKey::Index(0),
        output: nrtq::TensorKey::Name("y".into()),
    };
    let pcfg = PipelineConfig {
        links: vec![link(1), link(2)],
        ..PipelineConfig::default()
    };
    let (rt, dev, q, record) = pipeline(MockConfig::default(), 3, pcfg);
    let done = run(&q, 100, &record);
    assert_eq!(done.len(), 100);
    // Units: write, compute (all three models), read.
    assert_eq!(dev.xu(1).issued(), 300);
    assert_eq!(q.stage_stats()[1].retired, 300);
    q.destroy(WATCHDOG).unwrap();
    drop(rt);
}

#[test]
fn an_error_on_a_unit_fails_that_request_at_its_stage_and_the_rest_go_on() {
    // Every 7th request on each mock unit fails: each stage fails its own requests.
    let cfg = MockConfig {
        error_every: 7,
        ..MockConfig::default()
    };
    let (rt, _dev, q, record) = pipeline(cfg, 1, PipelineConfig::default());
    let done = run(&q, 700, &record);
    assert_eq!(done.len(), 700);
    let failed: Vec<&Completion> = done.iter().filter(|c| c.status != Status::Ok).collect();
    // The write stage fails tickets 7, 14, …; of the rest, the execute stage fails every
    // 7th that reached it, and so on: each failure names a stage.
    assert!(failed
        .iter()
        .all(|c| c.status == Status::ExecError && c.stage.is_some()));
    for s in [Stage::Write, Stage::Execute, Stage::Read] {
        assert!(failed.iter().any(|c| c.stage == Some(s)), "{s:?}");
    }
    assert!(failed
        .iter()
        .filter(|c| c.stage == Some(Stage::Write))
        .all(|c| c.ticket % 7 == 0));
    let (slots, free) = q.device_slots().unwrap();
    assert_eq!(slots, free, "failed requests gave their slots back");
    q.destroy(WATCHDOG).unwrap();
    drop(rt);
}

#[test]
fn refused_buffers_name_the_tensor_and_take_no_ticket() {
    let (rt, _dev, q, _record) = pipeline(MockConfig::default(), 1, PipelineConfig::default());
    let buf = [0u8; 8];
    let mut out = [0u8; 4];
    let outs = [HostOutput {
        tensor: TensorRef::Name("y"),
        data: out.as_mut_ptr(),
        len: 4,
    }];
    let ins = [HostInput {
        tensor: TensorRef::Name("x"),
        data: buf.as_ptr(),
        len: 8,
    }];
    // SAFETY: refused before any buffer is used.
    let e = unsafe { q.submit_host(&ins, &outs, 0, None) }.unwrap_err();
    assert_eq!(e.status, Status::InvalidArgument);
    assert!(
        e.message
            .contains("input \"x\" is given 8 bytes; the model expects 4 bytes"),
        "{}",
        e.message
    );
    assert_eq!(q.stats().submitted, 0);
    q.destroy(WATCHDOG).unwrap();
    drop(rt);
}

#[test]
fn chained_inputs_bind_by_name_or_are_refused_at_creation() {
    // The mock's models take "x" and give "y": a chain binds "x" to nothing by name.
    let dev = MockDevice::new(MockConfig::default());
    let rt = Runtime::with_device(dev).unwrap();
    let e = rt
        .create_pipeline(
            &[Handle(1), Handle(2)],
            QueueConfig::default(),
            &PipelineConfig::default(),
        )
        .err()
        .expect("refused");
    assert!(
        e.message
            .contains("input \"x\" of model 1 is bound to nothing"),
        "{}",
        e.message
    );
    // With a link (output by index) the chain is built.
    let pcfg = PipelineConfig {
        links: vec![nrtq::Link {
            model: 1,
            input: nrtq::TensorKey::Name("x".into()),
            output: nrtq::TensorKey::Index(0),
        }],
        ..PipelineConfig::default()
    };
    let q = rt
        .create_pipeline(&[Handle(1), Handle(2)], QueueConfig::default(), &pcfg)
        .expect("linked");
    q.destroy(WATCHDOG).unwrap();
    drop(rt);
}

#[test]
fn a_dead_stage_fails_the_pipeline_and_everything_completes_once() {
    let cfg = MockConfig {
        dead_after: Some(50),
        ..MockConfig::default()
    };
    let (rt, _dev, q, record) = pipeline(cfg, 1, PipelineConfig::default());
    let n = 300;
    let input = vec![[0u8; 4]; n];
    let mut output = vec![[0u8; 4]; n];
    let mut accepted = 0;
    for (i, (inp, out)) in input.iter().zip(output.iter_mut()).enumerate() {
        let ins = [HostInput {
            tensor: TensorRef::Index(0),
            data: inp.as_ptr(),
            len: 4,
        }];
        let outs = [HostOutput {
            tensor: TensorRef::Index(0),
            data: out.as_mut_ptr(),
            len: 4,
        }];
        // SAFETY: the mock moves no bytes.
        if unsafe { q.submit_host(&ins, &outs, i as u64, None) }.is_ok() {
            accepted += 1;
        }
    }
    q.drain(Some(WATCHDOG)).unwrap();
    let done = std::mem::take(&mut *record.lock().unwrap());
    let tickets: Vec<u64> = done.iter().map(|c| c.ticket).collect();
    assert_eq!(tickets, (1..=accepted).collect::<Vec<_>>());
    assert_eq!(q.failure().map(|f| f.0), Some(Status::QueueFailed));
    assert!(done.iter().any(|c| c.status == Status::QueueFailed));
    q.destroy(WATCHDOG).unwrap();
    drop(rt);
}

/// Poll `cond` until it holds (a watchdog fails the test after 10 s).
fn until(what: &str, cond: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(std::time::Instant::now() < deadline, "watchdog: {what}");
        std::thread::yield_now();
    }
}

#[test]
fn a_dead_unit_leaves_the_other_units_to_finish_what_they_hold() {
    // Manual units (requests complete when the test releases them); each dies at its
    // fourth schedule call.
    let cfg = MockConfig {
        manual: true,
        dead_after: Some(3),
        ..MockConfig::default()
    };
    let (rt, dev, q, record) = pipeline(cfg, 1, PipelineConfig::default());
    let input = [[0u8; 4]; 4];
    let mut output = [[0u8; 4]; 4];
    let mut submit = |k: usize| {
        let ins = [HostInput {
            tensor: TensorRef::Index(0),
            data: input[k].as_ptr(),
            len: 4,
        }];
        let outs = [HostOutput {
            tensor: TensorRef::Index(0),
            data: output[k].as_mut_ptr(),
            len: 4,
        }];
        // SAFETY: the mock moves no bytes.
        unsafe { q.submit_host(&ins, &outs, k as u64, None) }
    };
    for k in 0..3 {
        submit(k).unwrap();
    }
    let (write, compute, read) = (dev.xu(0), dev.xu(1), dev.xu(2));
    until("three writes", || write.running() == 3);
    write.release(3);
    until("three executions", || compute.running() == 3);
    compute.release(2);
    until("two reads", || read.running() == 2);
    // The write unit dies at the next request: the pipeline fails at once…
    let e = submit(3).unwrap_err();
    assert_eq!(e.status, Status::QueueFailed);
    assert_eq!(q.failure().map(|f| f.0), Some(Status::QueueFailed));
    // …but the reads and the execution still held by healthy units finish first.
    assert!(
        record.lock().unwrap().is_empty(),
        "nothing given up on a healthy unit"
    );
    read.release(2);
    compute.release(1);
    q.drain(Some(WATCHDOG)).unwrap();
    let done: Vec<(u64, Status, Option<Stage>)> = record
        .lock()
        .unwrap()
        .iter()
        .map(|c| (c.ticket, c.status, c.stage))
        .collect();
    assert_eq!(
        done,
        [
            (1, Status::Ok, None),
            (2, Status::Ok, None),
            (3, Status::QueueFailed, Some(Stage::Execute))
        ],
        "requests 1 and 2 were read; 3 finished its execution and went no further"
    );
    let (slots, free) = q.device_slots().unwrap();
    assert_eq!(slots, free, "nothing was given up on a unit");
    q.destroy(WATCHDOG).unwrap();
    drop(rt);
}
