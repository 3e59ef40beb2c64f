//! `pyvet size` output: a table, `pyvet-size/1` JSON, an SVG bar chart.
//! Packed resources files add what they hold and cost per layout: a table
//! each, a `packed` array, a second series of bars.

use serde::Serialize;

use crate::size::{LayoutSize, PackedSize, BLOCK};

pub const SCHEMA: &str = "pyvet-size/1";

#[derive(Serialize)]
struct Doc<'a> {
    schema: &'static str,
    block_size: u64,
    layouts: &'a [LayoutSize],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    packed: &'a [PackedSize],
}

pub fn json(layouts: &[LayoutSize], packed: &[PackedSize]) -> String {
    let mut s = serde_json::to_string_pretty(&Doc {
        schema: SCHEMA,
        block_size: BLOCK,
        layouts,
        packed,
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

pub fn text(layouts: &[LayoutSize], packed: &[PackedSize]) -> String {
    let mut s = layout_table(layouts);
    for p in packed {
        s.push('\n');
        s.push_str(&packed_table(p));
    }
    s
}

/// What one packed file holds, and its size in each layout.
fn packed_table(p: &PackedSize) -> String {
    let mut s = format!(
        "packed resources {}: {} bytes, {} resources\n{:<20} {:>7} {:>12}\n",
        p.path.display(),
        p.bytes,
        p.resources,
        "  holds",
        "count",
        "bytes"
    );
    for part in p.parts.iter().filter(|x| x.count > 0 || x.bytes > 0) {
        s.push_str(&format!(
            "  {:<18} {:>7} {:>12}\n",
            part.part, part.count, part.bytes
        ));
    }
    s.push_str(&format!(
        "{:<20} {:>12} {:>10}\n",
        "  layout", "bytes", "vs status"
    ));
    for l in &p.layouts {
        s.push_str(&format!(
            "  {:<18} {:>12} {:>10}\n",
            l.name,
            l.bytes,
            change(p.bytes, l.bytes)
        ));
    }
    s
}

fn layout_table(layouts: &[LayoutSize]) -> String {
    let mut s = format!(
        "{:<14} {:>12} {:>9} {:>10} {:>9} {:>7}\n",
        "layout", "bytes", "MiB", "vs status", "blocks", "files"
    );
    let base = layouts.first().map_or(0, |l| l.bytes);
    for l in layouts {
        s.push_str(&format!(
            "{:<14} {:>12} {:>9.1} {:>10} {:>9} {:>7}\n",
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

fn mib(bytes: u64) -> f32 {
    (bytes as f64 / 1048576.0) as f32
}

/// A bar chart of each layout's MiB, drawn by charts-rs (its own font
/// metrics, so the output is the same on every machine); with packed
/// resources files, a second bar per layout for their share.
pub fn svg(layouts: &[LayoutSize], packed: &[PackedSize]) -> Result<String, String> {
    use charts_rs::{BarChart, Series};
    let all: Vec<f32> = layouts.iter().map(|l| mib(l.bytes)).collect();
    let mut series = vec![Series::new("MiB".into(), all)];
    if !packed.is_empty() {
        let share = layouts
            .iter()
            .map(|l| mib(packed.iter().map(|p| p.in_layout(l.name)).sum()))
            .collect();
        series.push(Series::new("of which packed resources".into(), share));
    }
    for s in &mut series {
        s.label_show = true;
    }
    let names = layouts.iter().map(|l| l.name.to_string()).collect();
    let legend = series.len() > 1;
    let mut chart = BarChart::new(series, names);
    chart.title_text = "Python layout sizes (MiB)".into();
    chart.legend_show = Some(legend);
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
