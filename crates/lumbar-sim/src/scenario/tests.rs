use super::*;

/// A scenario whose rules depend on the horizon: 10 consecutive
/// sessions and 15 days since the last change.
fn text(weeks: u32) -> String {
    format!(
        r#"
        name = "horizon"
        weeks = {weeks}
        patients = 100
        seed = 5
        [programme]
        exercises = "all"
        [[rule]]
        name = "steady"
        applies_to = "all"
        when.session = {{ completed = true }}
        when.consecutive = 10
        then = "hold"
        [[rule]]
        name = "settled"
        applies_to = "all"
        when.days_since_change = ">= 15"
        then = "hold"
        "#
    )
}

fn parse(weeks: u32) -> Result<Scenario, ScenarioError> {
    Scenario::parse(&text(weeks), "h.toml", None)
}

#[test]
fn with_weeks_is_parsing_with_that_horizon() {
    let twelve = parse(12).unwrap();
    for weeks in [1, 2, 3, 52] {
        let overridden = twelve
            .with_weeks(weeks)
            .map(|s| (serde_json::to_string(&s).unwrap(), format!("{:?}", s.rules)));
        let parsed =
            parse(weeks).map(|s| (serde_json::to_string(&s).unwrap(), format!("{:?}", s.rules)));
        match (overridden, parsed) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{weeks} weeks"),
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{weeks} weeks"),
            (a, b) => panic!("{weeks} weeks: override {a:?}, parse {b:?}"),
        }
    }
    // 1 week (7 days) fails rule 0's 10 sessions first; 2 weeks, rule 1's 15 days.
    let e = twelve.with_weeks(1).unwrap_err().to_string();
    assert!(
        e.starts_with("scenario h.toml: `rule[0].when.consecutive`: 10 sessions"),
        "{e}"
    );
    let e = twelve.with_weeks(2).unwrap_err().to_string();
    assert!(e.contains("`rule[1].when.days_since_change`"), "{e}");
    assert_eq!(twelve.with_weeks(3).unwrap().days(), 21);
}

#[test]
fn overrides_are_checked_against_the_maxima() {
    let s = parse(12).unwrap();
    let e = s.with_weeks(MAX_WEEKS + 1).unwrap_err();
    assert!(
        matches!(&e, ScenarioError::Override { key: "weeks", problem } if problem == "must be 1 to 520"),
        "{e}"
    );
    match s.with_patients(0).unwrap_err() {
        ScenarioError::Override { key, problem } => {
            assert_eq!(
                (key, problem.as_str()),
                ("patients", "must be 1 to 1000000000, not 0")
            );
        }
        e => panic!("{e}"),
    }
    assert_eq!(
        s.with_patients(MAX_PATIENTS).unwrap().patients,
        MAX_PATIENTS
    );
    let reseeded = s.with_seed(99).unwrap();
    assert_eq!(
        (reseeded.seed, reseeded.weeks, reseeded.patients),
        (99, 12, 100)
    );
}

#[test]
fn joint_psa_draws_take_rows_in_turn_and_bad_columns_name_their_key() {
    let with = |joint: &str| {
        Scenario::parse(
            &format!("{}\n[psa]\ndraws = 5\n[psa.joint]\n{joint}\n", text(12)),
            "j.toml",
            None,
        )
    };
    let s = with("\"dynamics.exercise_benefit\" = [1.0, 2.0]\n\"population.adherence.a\" = [7, 9]")
        .unwrap();
    let runs = crate::engine::plan_runs(&s).unwrap();
    let benefit: Vec<f64> = runs.iter().map(|r| r.dynamics.exercise_benefit).collect();
    assert_eq!(benefit, [1.0, 2.0, 1.0, 2.0, 1.0]);
    // The rows are joint: draw d takes row d mod 2 of every column.
    for r in &runs {
        let a = match r.population.adherence.dist {
            crate::prior::Dist::Beta { a, .. } => a,
            _ => unreachable!(),
        };
        assert_eq!(a, if r.draw % 2 == 0 { 7.0 } else { 9.0 });
    }
    let e = with("\"dynamics.exercise_benefit\" = [1.0, 2.0]\n\"population.adherence.a\" = [7]")
        .unwrap_err()
        .to_string();
    assert!(e.contains("psa.joint") && e.contains("1 values"), "{e}");
    let e = with("\"dynamics.exercise_benefit\" = [1.0, -2.0]")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("psa.joint.\"dynamics.exercise_benefit\"[1]"),
        "{e}"
    );
    let e = with("\"dynamics.no_such\" = [1.0]")
        .unwrap_err()
        .to_string();
    assert!(e.contains("no_such"), "{e}");
}
