//! `pyvet size` output: a table, `pyvet-size/1` JSON, an SVG bar chart.

use serde::Serialize;

use crate::size::{LayoutSize, BLOCK};

pub const SCHEMA: &str = "pyvet-size/1";

#[derive(Serialize)]
struct Doc<'a> {
    schema: &'static str,
    block_size: u64,
    layouts: &'a [LayoutSize],
}

pub fn json(layouts: &[LayoutSize]) -> String {
    let mut s = serde_json::to_string_pretty(&Doc {
        schema: SCHEMA,
        block_size: BLOCK,
        layouts,
    })
    .expect("sizes serialise");
    s.push('\n');
    s
}

/// Percentage change from the first layout (status quo).
fn change(base: u64, v: u64) -> String {
    if base == 0 {
        return "-".into();
    }
    format!("{:+.1} %", (v as f64 - base as f64) * 100.0 / base as f64)
}

pub fn text(layouts: &[LayoutSize]) -> String {
    let mut s = format!(
        "{:<12} {:>12} {:>9} {:>10} {:>9} {:>7}\n",
        "layout", "bytes", "MiB", "vs status", "blocks", "files"
    );
    let base = layouts.first().map_or(0, |l| l.bytes);
    for l in layouts {
        s.push_str(&format!(
            "{:<12} {:>12} {:>9.1} {:>10} {:>9} {:>7}\n",
            l.name,
            l.bytes,
            l.bytes as f64 / 1048576.0,
            change(base, l.bytes),
            l.blocks,
            l.files
        ));
    }
    s
}

/// A bar chart of each layout's MiB, drawn by charts-rs (its own font
/// metrics, so the output is the same on every machine).
pub fn svg(layouts: &[LayoutSize]) -> Result<String, String> {
    use charts_rs::{BarChart, Series};
    let mib: Vec<f32> = layouts
        .iter()
        .map(|l| (l.bytes as f64 / 1048576.0) as f32)
        .collect();
    let mut series = Series::new("MiB".into(), mib);
    series.label_show = true;
    let names = layouts.iter().map(|l| l.name.to_string()).collect();
    let mut chart = BarChart::new(vec![series], names);
    chart.title_text = "Python layout sizes (MiB)".into();
    chart.legend_show = Some(false);
    if let Some(base) = layouts.first().filter(|b| b.bytes > 0) {
        chart.sub_title_text = layouts
            .iter()
            .skip(1)
            .map(|l| format!("{} {}", l.name, change(base.bytes, l.bytes)))
            .collect::<Vec<_>>()
            .join(", ");
    }
    chart.width = 720.0;
    chart.height = 400.0;
    let mut s = chart.svg().map_err(|e| format!("SVG chart: {e:?}"))?;
    s.push('\n');
    Ok(s)
}
