//! `--plot FILE.svg` of `lumbar stats km`, `cox` and `poisson`: the model's
//! figure as a standalone SVG (lumbar_report::plots), written atomically
//! to exactly the file named.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use lumbar_report::plots;
use lumbar_stats::poisson::Coefficient;
use lumbar_stats::survival::KmCurve;

/// Where a model's figure goes.
#[derive(Args, Debug, Clone, Default)]
pub struct PlotArg {
    /// Also draw the results as a standalone SVG figure in this file (km:
    /// the curves with their --conf-level bands (95% by default), censoring
    /// marks and the number at risk; cox, poisson: a forest plot of the
    /// ratios with their CIs, log scale).
    #[arg(long, value_name = "FILE.svg", value_parser = svg_path)]
    pub plot: Option<PathBuf>,
}

/// The reason a path cannot take a plot, if it cannot: the figure is SVG,
/// so the name must end in `.svg` (any case), and a name that says
/// otherwise would mislead whoever opens the file.
fn not_svg(path: &Path) -> Option<String> {
    let svg = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("svg"));
    (!svg).then(|| {
        format!(
            "the plot is an SVG file: give --plot a name ending in .svg (not {})",
            path.display()
        )
    })
}

/// Clap's check of `--plot`, so that a wrong name fails before any fit.
fn svg_path(s: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(s);
    match not_svg(&path) {
        Some(why) => Err(why),
        None => Ok(path),
    }
}

/// Writes `svg` to `path` whole or not at all (a temporary file in the
/// same folder, renamed over it); the folder must exist already, since a
/// plot touches nothing but the file it names.
fn write_svg(path: &Path, svg: &str) -> Result<()> {
    if let Some(why) = not_svg(path) {
        bail!(why);
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.is_dir()
    {
        bail!(
            "cannot write the plot {}: the folder {} does not exist",
            path.display(),
            dir.display()
        );
    }
    lumbar_model::atomic::write_atomic(path, svg.as_bytes())
        .with_context(|| format!("cannot write the plot {}", path.display()))
}

/// With `--plot`, draws the Kaplan–Meier `curves` (grouped by the column
/// `group`, if any; time read from the column `time`) under `title` and
/// writes the SVG to the file named; without it, does nothing.
pub fn write_km(
    arg: &PlotArg,
    curves: &[KmCurve],
    group: Option<&str>,
    time: &str,
    title: &str,
) -> Result<()> {
    let Some(path) = &arg.plot else {
        return Ok(());
    };
    let svg = plots::km(&plots::KmFigure {
        title,
        x_title: time,
        group,
        curves,
    });
    write_svg(path, &svg)
}

/// With `--plot`, draws the forest plot of `terms` (their ratios, `ratio`
/// naming them: "HR", "RR") under `title` and writes the SVG to the file
/// named; without it, does nothing.
pub fn write_forest(arg: &PlotArg, terms: &[Coefficient], ratio: &str, title: &str) -> Result<()> {
    let Some(path) = &arg.plot else {
        return Ok(());
    };
    write_svg(path, &plots::forest(title, ratio, terms))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A name without .svg is refused with the reason, by clap and by the
    /// writer, and nothing is written.
    #[test]
    fn only_svg_names_are_taken() {
        assert!(svg_path("km.svg").is_ok());
        assert!(svg_path("out/KM.SVG").is_ok());
        let err = svg_path("km.png").unwrap_err();
        assert_eq!(
            err,
            "the plot is an SVG file: give --plot a name ending in .svg (not km.png)"
        );
        assert!(svg_path("km").is_err());
        let dir = std::env::temp_dir().join(format!("lumbar-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let arg = PlotArg {
            plot: Some(dir.join("f.pdf")),
        };
        let e = write_forest(&arg, &[], "HR", "t").unwrap_err().to_string();
        assert!(e.contains("ending in .svg"), "{e}");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A missing folder is said as such; the folder is not made.
    #[test]
    fn a_missing_folder_is_an_error_not_created() {
        let dir = std::env::temp_dir().join(format!("lumbar-plot-missing-{}", std::process::id()));
        let arg = PlotArg {
            plot: Some(dir.join("km.svg")),
        };
        let e = write_km(&arg, &[], None, "time", "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not exist"), "{e}");
        assert!(!dir.exists());
    }

    /// Without --plot nothing is drawn or written; with it, exactly the
    /// named file appears, a whole SVG.
    #[test]
    fn writes_exactly_the_named_file() {
        assert!(write_forest(&PlotArg::default(), &[], "HR", "t").is_ok());
        let dir = std::env::temp_dir().join(format!("lumbar-plot-write-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("forest.svg");
        let arg = PlotArg {
            plot: Some(path.clone()),
        };
        let term = Coefficient {
            term: "age".into(),
            estimate: 0.1,
            std_error: 0.05,
            z: 2.0,
            p_value: 0.0455,
            exp_estimate: 0.1f64.exp(),
            conf_low: (0.1f64 - 1.96 * 0.05).exp(),
            conf_high: (0.1f64 + 1.96 * 0.05).exp(),
        };
        write_forest(&arg, &[term], "HR", "Cox model").unwrap();
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("forest.svg")]);
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.contains("<title>Cox model</title>"));
        assert!(svg.contains(">1.11 (1.00–1.22)</text>"), "{svg}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// `stats km --plot` on survival's lung data by sex: the figure's
    /// number-at-risk table reads as survminer's at 0, 250, 500, 750 and
    /// 1000 days, and --json still prints only the JSON.
    #[test]
    fn km_plot_of_lung_has_survminers_risk_table() {
        let lung =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/survival/lung.csv");
        let dir = std::env::temp_dir().join(format!("lumbar-plot-km-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let plot = dir.join("km.svg");
        let mut out = Vec::new();
        let code = crate::run(
            [
                "lumbar".as_ref(),
                "-q".as_ref(),
                "stats".as_ref(),
                "km".as_ref(),
                "--data".as_ref(),
                lung.as_os_str(),
                "--time".as_ref(),
                "time".as_ref(),
                "--event".as_ref(),
                "event".as_ref(),
                "--group".as_ref(),
                "sex".as_ref(),
                "--json".as_ref(),
                "--plot".as_ref(),
                plot.as_os_str(),
            ] as [&std::ffi::OsStr; 15],
            &mut out,
        )
        .unwrap();
        assert_eq!(code, 0);
        assert!(serde_json::from_slice::<serde_json::Value>(&out).is_ok());
        let svg = std::fs::read_to_string(&plot).unwrap();
        let risk: Vec<&str> = svg
            .split(r#"class="tick risk-n">"#)
            .skip(1)
            .map(|s| s.split('<').next().unwrap_or(""))
            .collect();
        assert_eq!(
            risk,
            ["138", "62", "20", "7", "2", "90", "53", "21", "3", "0"]
        );
        assert!(svg.contains("<title>Kaplan–Meier survival by sex</title>"));
        assert!(svg.contains(">sex=1</text>") && svg.contains(">sex=2</text>"));
        assert_eq!(svg.matches(r#"class="km-line""#).count(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
