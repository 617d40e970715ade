//! Deterministic fault injection: the `fault` lines of a model file and the
//! `NRT_EMU_FAULTS` environment variable, parsed into rules the XUs apply by number.
//!
//! Syntax (documented for users in `nrt-emu/ASYNC.md`): one rule is
//! `<kind> key=value ...`; a model file writes it after the word `fault`, the
//! environment variable separates rules with `;` (a leading `fault` is allowed there too).
//!
//! | kind | keys | effect |
//! |---|---|---|
//! | `error` | `code=C` and `every=N` or `seq=S` | request number S (or every multiple of N) completes with C; its work is not done |
//! | `unrecoverable` | `after=N` | request N+1 fails with `NRT_EXEC_UNIT_UNRECOVERABLE` and the XU dies |
//! | `hang` | `seq=S` or `every=N` | that request never completes (nor anything behind it on the XU) |
//! | `reject` | `code=C` and `nth=K` or `every=N` | the K-th (or every N-th) schedule call that would have been accepted fails at once with C |
//!
//! Numbers count per XU instance: a request's number is its 48-bit sequence number, a
//! schedule call's number counts the calls that passed every other check. Environment
//! rules may name their target with `xu=` (`read`, `write`, `op`, `compute`,
//! `collectives`; default `compute`), `lnc=` and `queue=` (default: every one). A
//! model's rules apply to that model's requests on its COMPUTE unit only.

use super::xu::XuKind;
use neuron_sys::NRT_STATUS;

/// What a rule does when it fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Complete with this status, without doing the work.
    Error(NRT_STATUS),
    /// Fail with `NRT_EXEC_UNIT_UNRECOVERABLE` and kill the XU.
    Unrecoverable,
    /// Never complete.
    Hang,
    /// Refuse the schedule call with this status.
    Reject(NRT_STATUS),
}

/// Which numbers a rule fires on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    /// Every multiple of N.
    Every(u64),
    /// Exactly this number.
    Exactly(u64),
}

impl When {
    fn fires(self, n: u64) -> bool {
        match self {
            When::Every(k) => n.checked_rem(k) == Some(0),
            When::Exactly(k) => n == k,
        }
    }
}

/// Which XU instances an environment rule applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    /// XU kind (a 2.28 kind name also selects the 2.29+ TENSOR_OP unit that runs it).
    pub kind: XuKind,
    /// Logical core, or every core.
    pub lnc: Option<u32>,
    /// Queue, or every queue.
    pub queue: Option<u32>,
}

/// One parsed rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// What happens.
    pub effect: Effect,
    /// When it happens.
    pub when: When,
    /// Where (only meaningful for environment rules).
    pub target: Target,
}

/// What the device plans for one accepted request, decided at schedule time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Planned {
    /// Do the work; the status is whatever the work returns.
    Run,
    /// Skip the work and complete with this status.
    Fail(NRT_STATUS),
    /// Fail with `NRT_EXEC_UNIT_UNRECOVERABLE`; the XU dies at this request's release.
    Fatal,
    /// Never release.
    Hang,
}

/// The plan for request number `num` under `rules`: a hang wins over a fatal error,
/// which wins over an ordinary error.
pub fn plan<'a>(rules: impl IntoIterator<Item = &'a Fault>, num: u64) -> Planned {
    let mut planned = Planned::Run;
    for f in rules {
        let p = match f.effect {
            Effect::Hang if f.when.fires(num) => Planned::Hang,
            Effect::Unrecoverable if matches!(f.when, When::Exactly(n) if n + 1 == num) => {
                Planned::Fatal
            }
            Effect::Error(code) if f.when.fires(num) => Planned::Fail(code),
            _ => continue,
        };
        let rank = |p: Planned| match p {
            Planned::Hang => 3,
            Planned::Fatal => 2,
            Planned::Fail(_) => 1,
            Planned::Run => 0,
        };
        if rank(p) > rank(planned) {
            planned = p;
        }
    }
    planned
}

/// The status a schedule call numbered `call` is refused with, if a rule says so.
pub fn rejection<'a>(rules: impl IntoIterator<Item = &'a Fault>, call: u64) -> Option<NRT_STATUS> {
    rules.into_iter().find_map(|f| match f.effect {
        Effect::Reject(code) if f.when.fires(call) => Some(code),
        _ => None,
    })
}

/// Parse one rule (`error every=3 code=1004`); a leading `fault` word is skipped.
pub fn parse_rule(text: &str) -> Result<Fault, String> {
    let mut words = text.split_whitespace().peekable();
    if words.peek() == Some(&"fault") {
        words.next();
    }
    let kind = words.next().ok_or("empty fault rule")?;
    let mut code = None;
    let mut when = None;
    let mut target = Target {
        kind: XuKind::Compute,
        lnc: None,
        queue: None,
    };
    for w in words {
        let (k, v) = w
            .split_once('=')
            .ok_or_else(|| format!("`{w}` is not key=value"))?;
        let num = || {
            v.parse::<u64>()
                .map_err(|_| format!("`{k}={v}`: expected a number"))
        };
        let set_when = |when: &mut Option<When>, w: When| {
            if when.replace(w).is_some() {
                Err(format!(
                    "`{k}`: give only one of every=, seq=, nth=, after="
                ))
            } else {
                Ok(())
            }
        };
        match k {
            "code" => code = Some(parse_status(v)?),
            "every" => {
                let n = num()?;
                if n == 0 {
                    return Err("every=0: use a number >= 1".into());
                }
                set_when(&mut when, When::Every(n))?
            }
            "seq" | "nth" | "after" => set_when(&mut when, When::Exactly(num()?))?,
            "xu" => target.kind = XuKind::parse(v).ok_or_else(|| format!("unknown xu `{v}`"))?,
            "lnc" => target.lnc = Some(num()? as u32),
            "queue" => target.queue = Some(num()? as u32),
            _ => return Err(format!("unknown key `{k}`")),
        }
    }
    let when = when.ok_or_else(|| format!("`{kind}` needs every=, seq=, nth= or after="))?;
    let need_code = || code.ok_or_else(|| format!("`{kind}` needs code="));
    let effect = match kind {
        "error" => Effect::Error(need_code()?),
        "reject" => Effect::Reject(need_code()?),
        "unrecoverable" => {
            if !matches!(when, When::Exactly(_)) {
                return Err("`unrecoverable` takes after=N".into());
            }
            Effect::Unrecoverable
        }
        "hang" => Effect::Hang,
        _ => return Err(format!("unknown fault kind `{kind}`")),
    };
    if matches!(effect, Effect::Error(0) | Effect::Reject(0)) {
        return Err("code=0 is success, not a fault".into());
    }
    Ok(Fault {
        effect,
        when,
        target,
    })
}

/// Parse every rule of an `NRT_EMU_FAULTS` value (rules separated by `;`).
pub fn parse_env(text: &str) -> Result<Vec<Fault>, String> {
    text.split(';')
        .filter(|r| !r.trim().is_empty())
        .map(|r| parse_rule(r).map_err(|e| format!("NRT_EMU_FAULTS `{}`: {e}", r.trim())))
        .collect()
}

/// A status given as a number (`1004`) or a name (`NRT_EXEC_COMPLETED_WITH_ERR`).
fn parse_status(v: &str) -> Result<NRT_STATUS, String> {
    if let Ok(n) = v.parse::<NRT_STATUS>() {
        return Ok(n);
    }
    (0..=2000)
        .find(|&c| neuron_sys::status_name(c) == Some(v))
        .ok_or_else(|| format!("unknown status `{v}`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind() {
        let f = parse_rule("fault error every=3 code=1004").unwrap();
        assert_eq!(f.effect, Effect::Error(1004));
        assert_eq!(f.when, When::Every(3));
        let f = parse_rule("reject nth=2 code=NRT_RESOURCE xu=write lnc=1 queue=1").unwrap();
        assert_eq!(f.effect, Effect::Reject(neuron_sys::NRT_RESOURCE));
        assert_eq!(f.target.kind, XuKind::TensorWrite);
        assert_eq!((f.target.lnc, f.target.queue), (Some(1), Some(1)));
        assert_eq!(
            parse_rule("unrecoverable after=4").unwrap().effect,
            Effect::Unrecoverable
        );
        assert_eq!(parse_rule("hang seq=7").unwrap().effect, Effect::Hang);
        for bad in [
            "",
            "error every=3",
            "error code=4",
            "boom seq=1",
            "error seq=1 code=0",
            "error seq=x code=4",
            "unrecoverable every=2",
            "error seq=1 every=2 code=4",
            "hang seq=1 xu=gpu",
        ] {
            assert!(parse_rule(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_env("error seq=1 code=5; hang seq=9 ;").unwrap().len(),
            2
        );
    }

    #[test]
    fn plans_by_number_with_priorities() {
        let rules =
            parse_env("error every=2 code=1004; unrecoverable after=5; hang seq=8").unwrap();
        assert_eq!(plan(&rules, 1), Planned::Run);
        assert_eq!(plan(&rules, 2), Planned::Fail(1004));
        assert_eq!(plan(&rules, 6), Planned::Fatal);
        assert_eq!(plan(&rules, 8), Planned::Hang);
        let rej = parse_env("reject every=3 code=4").unwrap();
        assert_eq!(rejection(&rej, 2), None);
        assert_eq!(rejection(&rej, 3), Some(4));
    }
}
