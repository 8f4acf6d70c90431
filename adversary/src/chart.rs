//! Line charts of a report, drawn as SVG with `plotters` (its SVG backend
//! needs no font files: text is written as SVG `<text>` and drawn by the
//! viewer).

use std::path::Path;

use anyhow::Context as _;
use plotters::prelude::*;

/// One line: a name for the legend and its points, in x order.
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend entry.
    pub name: String,
    /// `(x, y)` points.
    pub points: Vec<(f64, f64)>,
}

/// How the x axis is scaled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XScale {
    /// Linear.
    Linear,
    /// Base-2 logarithmic (for sweeps such as G = 1, 4, 16, 64); every x
    /// must be positive.
    Log2,
}

/// A chart to draw.
#[derive(Clone, Copy, Debug)]
pub struct LineChart<'a> {
    /// Caption.
    pub title: &'a str,
    /// x-axis description.
    pub x_label: &'a str,
    /// y-axis description.
    pub y_label: &'a str,
    /// x-axis scale.
    pub x_scale: XScale,
    /// Fixed y range, or `None` to fit the data.
    pub y_range: Option<(f64, f64)>,
    /// The lines.
    pub series: &'a [Series],
}

/// Chart size in pixels.
const SIZE: (u32, u32) = (900, 540);

/// The colour of the `i`-th series (plotters' palette, which is meant to be
/// told apart).
fn colour(i: usize) -> RGBColor {
    let (r, g, b) = Palette99::pick(i).rgb();
    RGBColor(r, g, b)
}

/// The range `values` span, widened when they are all equal (plotters
/// needs a non-empty range) and padded by 5 % on both sides.
fn span(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    let (lo, hi) = if hi - lo < 1e-9 {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    };
    let pad = (hi - lo) * 0.05;
    (lo - pad, hi + pad)
}

/// Decimals of linear x-axis labels for an axis `width` wide: none for
/// seconds over a minute, two for fractions such as f = 0.05 … 0.3.
fn x_digits(width: f64) -> usize {
    if width >= 10.0 {
        0
    } else if width >= 1.0 {
        1
    } else {
        2
    }
}

/// Draws `chart` as an SVG file at `path`.
pub fn write_svg(chart: &LineChart<'_>, path: &Path) -> anyhow::Result<()> {
    draw(chart, path)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("draw the chart {:?} to {}", chart.title, path.display()))
}

fn draw(chart: &LineChart<'_>, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let points = chart.series.iter().flat_map(|s| s.points.iter());
    let (x0, x1) = span(points.clone().map(|p| match chart.x_scale {
        XScale::Linear => p.0,
        XScale::Log2 => p.0.max(f64::MIN_POSITIVE).log2(),
    }));
    let (y0, y1) = chart.y_range.unwrap_or_else(|| span(points.map(|p| p.1)));
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let mut ctx = ChartBuilder::on(&root)
        .caption(chart.title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    let log2 = chart.x_scale == XScale::Log2;
    let digits = x_digits(x1 - x0);
    let x_label = |x: &f64| {
        if log2 {
            format!("{}", 2f64.powf(*x).round())
        } else {
            format!("{x:.digits$}")
        }
    };
    ctx.configure_mesh()
        .x_desc(chart.x_label)
        .y_desc(chart.y_label)
        .x_label_formatter(&x_label)
        .y_label_formatter(&|y| format!("{y:.2}"))
        .draw()?;
    for (i, s) in chart.series.iter().enumerate() {
        let c = colour(i);
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .map(|&(x, y)| {
                (
                    if log2 {
                        x.max(f64::MIN_POSITIVE).log2()
                    } else {
                        x
                    },
                    y,
                )
            })
            .collect();
        ctx.draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))?
            .label(s.name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        ctx.draw_series(pts.into_iter().map(|p| Circle::new(p, 3, c.filled())))?;
    }
    ctx.configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_padded_and_never_empty() {
        assert_eq!(span([].into_iter()), (0.0, 1.0));
        let (lo, hi) = span([0.0, 10.0].into_iter());
        assert!((lo + 0.5).abs() < 1e-9 && (hi - 10.5).abs() < 1e-9);
        let (lo, hi) = span([3.0, 3.0].into_iter());
        assert!(lo < 3.0 && hi > 3.0);
    }

    #[test]
    fn draws_an_svg_with_every_series_in_the_legend() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.svg");
        let series = [
            Series {
                name: "discguard".into(),
                points: vec![(1.0, 0.1), (4.0, 0.2), (64.0, 0.4)],
            },
            Series {
                name: "discv5-default".into(),
                points: vec![(1.0, 0.9), (64.0, 0.95)],
            },
        ];
        write_svg(
            &LineChart {
                title: "share vs G",
                x_label: "G",
                y_label: "share",
                x_scale: XScale::Log2,
                y_range: Some((0.0, 1.0)),
                series: &series,
            },
            &path,
        )
        .unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..80.min(svg.len())]);
        // Text elements hold their text on a line of its own.
        let texts: Vec<&str> = svg.lines().filter(|l| !l.starts_with('<')).collect();
        for text in ["share vs G", "G", "share", "discguard", "discv5-default"] {
            assert!(texts.contains(&text), "{text} missing from {texts:?}");
        }
        // The log2 axis is labelled with the sweep's values, not exponents.
        for tick in ["1", "4", "16", "64"] {
            assert!(
                texts.contains(&tick),
                "x tick {tick} missing from {texts:?}"
            );
        }
        assert_eq!(svg.matches("<circle").count(), 5, "one marker per point");
    }

    #[test]
    fn fractions_on_a_linear_axis_keep_their_decimals() {
        assert_eq!((x_digits(60.0), x_digits(4.0), x_digits(0.3)), (0, 1, 2));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.svg");
        let series = [Series {
            name: "discguard-disjoint".into(),
            points: vec![(0.1, 1.0), (0.2, 0.9), (0.3, 0.7)],
        }];
        write_svg(
            &LineChart {
                title: "success vs f",
                x_label: "f",
                y_label: "success",
                x_scale: XScale::Linear,
                y_range: Some((0.0, 1.0)),
                series: &series,
            },
            &path,
        )
        .unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        let texts: Vec<&str> = svg.lines().filter(|l| !l.starts_with('<')).collect();
        assert!(texts.contains(&"0.20"), "x ticks: {texts:?}");
    }

    #[test]
    fn an_unwritable_path_is_an_error_that_names_it() {
        let err = write_svg(
            &LineChart {
                title: "t",
                x_label: "x",
                y_label: "y",
                x_scale: XScale::Linear,
                y_range: None,
                series: &[],
            },
            Path::new("/nonexistent-dir/c.svg"),
        )
        .unwrap_err();
        assert!(
            format!("{err:#}").contains("/nonexistent-dir/c.svg"),
            "{err:#}"
        );
    }
}
