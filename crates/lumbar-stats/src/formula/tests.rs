use super::*;

fn labels(f: &Formula) -> Vec<String> {
    f.terms.iter().map(Term::label).collect()
}

#[test]
fn survival_formulas_as_coxph_reads_them() {
    let f = Formula::parse(
        "Surv(time, status) ~ age + sex + factor(ph.ecog) + strata(inst) + cluster(id)",
    )
    .unwrap();
    assert_eq!(labels(&f), ["age", "sex", "factor(ph.ecog)"]);
    assert_eq!(f.strata.len(), 1);
    assert_eq!(f.strata[0].column, "inst");
    assert_eq!(f.cluster.as_ref().map(|c| c.column.as_str()), Some("id"));
    let Response::Surv {
        start, stop, event, ..
    } = &f.response
    else {
        panic!("{:?}", f.response)
    };
    assert!(start.is_none());
    assert_eq!(
        (stop.column.as_str(), event.column.as_str()),
        ("time", "status")
    );
    let f = Formula::parse("Surv(start, stop, status == 2) ~ x").unwrap();
    let Response::Surv { start, event, .. } = &f.response else {
        panic!()
    };
    assert_eq!(start.as_ref().map(|s| s.column.as_str()), Some("start"));
    assert_eq!(event.kind, Kind::Equals("2".into()));
    assert_eq!(event.label(), "status == 2");
    assert_eq!(f.columns(), ["start", "stop", "status", "x"]);
}

#[test]
fn the_term_algebra_is_rs() {
    // a*b = a + b + a:b; terms by degree; a term's variables in their
    // order of first appearance.
    let f = Formula::parse("y ~ a*b + c").unwrap();
    assert_eq!(labels(&f), ["a", "b", "c", "a:b"]);
    let f = Formula::parse("y ~ b:a + a").unwrap();
    assert_eq!(labels(&f), ["a", "b:a"]);
    let f = Formula::parse("y ~ (a + b + c)^2").unwrap();
    assert_eq!(labels(&f), ["a", "b", "c", "a:b", "a:c", "b:c"]);
    let f = Formula::parse("y ~ a*b*c - a:b:c").unwrap();
    assert_eq!(labels(&f), ["a", "b", "c", "a:b", "a:c", "b:c"]);
    let f = Formula::parse("y ~ (a + b):c").unwrap();
    assert_eq!(labels(&f), ["a:c", "b:c"]);
    let f = Formula::parse("y ~ week + arm:week").unwrap();
    assert_eq!(labels(&f), ["week", "week:arm"]);
    // Duplicates collapse; the intercept comes and goes.
    let f = Formula::parse("y ~ a + a + a:a").unwrap();
    assert_eq!(labels(&f), ["a"]);
    assert!(f.intercept);
    assert!(!Formula::parse("y ~ a - 1").unwrap().intercept);
    assert!(!Formula::parse("y ~ 0 + a").unwrap().intercept);
    assert!(!Formula::parse("y ~ -1 + a").unwrap().intercept);
    assert!(Formula::parse("y ~ 1").unwrap().terms.is_empty());
    // Backquoted names, functions of a column.
    let f = Formula::parse("`pain score` ~ log(age) + factor(`site id`)").unwrap();
    assert_eq!(labels(&f), ["log(age)", "factor(site id)"]);
    assert_eq!(f.columns(), ["pain score", "age", "site id"]);
}

#[test]
fn random_effects_as_lme4_reads_them() {
    let f = Formula::parse("Reaction ~ Days + (Days | Subject)").unwrap();
    assert_eq!(labels(&f), ["Days"]);
    assert_eq!(f.random.len(), 1);
    let r = &f.random[0];
    assert!(r.intercept);
    assert_eq!(r.slopes[0].column, "Days");
    assert_eq!(r.group.column, "Subject");
    let f = Formula::parse("y ~ x + (1 | g)").unwrap();
    assert!(f.random[0].slopes.is_empty() && f.random[0].intercept);
    let f = Formula::parse("y ~ x + (0 + x | g)").unwrap();
    assert!(!f.random[0].intercept);
    assert_eq!(f.rhs_label(), "x + (0 + x | g)");
}

/// Errors point at the character they are about.
#[test]
fn errors_point_at_the_character() {
    let at = |text: &str| Formula::parse(text).unwrap_err();
    let e = at("Surv(time, status) ~ age + foo(x)");
    assert_eq!(e.at, 27);
    assert!(e.message.contains("unknown function 'foo'"), "{e}");
    assert_eq!(
        e.to_string(),
        "formula, character 28: unknown function 'foo' (a formula here knows factor, log, \
         log2, log10, sqrt, exp, and strata, cluster and Surv)\n  \
         Surv(time, status) ~ age + foo(x)\n                             ^"
    );
    assert_eq!(at("y ~ a +").at, 7);
    assert_eq!(at("y ~ a + + b").at, 8);
    assert_eq!(at("y ~ (a + b").at, 10);
    assert_eq!(at("y a").at, 2);
    assert_eq!(at("~ a").at, 0);
    assert_eq!(at("y ~ a $ b").at, 6);
    assert_eq!(at("y ~ strata(a):b").at, 4);
    assert_eq!(at("y ~ a + (x || g)").at, 11);
    assert_eq!(at("y ~ a + 2").at, 8);
    assert_eq!(at("y ~ Surv(t, e)").at, 4);
    assert_eq!(at("Surv(t) ~ a").at, 0);
    assert_eq!(at("y ~ `a").at, 4);
    // Hostile sizes are refused, not recursed into or expanded.
    let deep = format!("y ~ {}a{}", "(".repeat(200), ")".repeat(200));
    assert!(at(&deep).message.contains("nested deeper"));
    let wide: Vec<String> = (0..40).map(|i| format!("x{i}")).collect();
    let e = at(&format!("y ~ ({})^40", wide.join(" + ")));
    assert!(e.message.contains("more than 512 terms"), "{e}");
    assert!(at(&"a".repeat(5000)).message.contains("at most 4096"));
    assert!(at("y ~ .").message.contains("'.' (all the other columns)"));
    // A long formula is shown around the character only; control and
    // bidirectional characters are not echoed to the terminal.
    let long = format!("y ~ {} + foo(x)", vec!["a"; 400].join(" + "));
    let shown = at(&long).to_string();
    assert!(
        shown.len() < 400 && shown.contains("…") && shown.ends_with('^'),
        "{shown}"
    );
    let hostile = at("y ~ a + \u{1b}[31m\u{202e}foo(x)").to_string();
    assert!(
        !hostile.contains('\u{1b}') && !hostile.contains('\u{202e}'),
        "{hostile:?}"
    );
}
