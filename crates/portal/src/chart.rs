//! Trend charts of lab results: an SVG drawn on the server by plotters, from numbers and dates
//! only (so no text from the server ever enters the markup unescaped), with the reference range
//! as a band. The page shows the same values in a table for those who do not see the chart.

use plotters::prelude::*;

/// One measurement: the day (Julian day number) and the value.
pub type Point = (i32, f64);

const WIDTH: u32 = 640;
const HEIGHT: u32 = 260;

/// The chart of `points` (oldest first) with the reference range `range`, or `None` when there
/// is nothing to draw.
pub fn trend(points: &[Point], range: Option<(f64, f64)>) -> Option<String> {
    if points.len() < 2 {
        return None;
    }
    let first = points.iter().map(|p| p.0).min()?;
    let last = points.iter().map(|p| p.0).max()?.max(first + 1);
    let mut low = points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let mut high = points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    if let Some((l, h)) = range {
        low = low.min(l);
        high = high.max(h);
    }
    let pad = ((high - low) * 0.1).max(0.1);
    let (low, high) = (low - pad, high + pad);
    if !low.is_finite() || !high.is_finite() {
        return None;
    }
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(28)
            .y_label_area_size(48)
            .build_cartesian_2d(first..last, low..high)
            .ok()?;
        chart
            .configure_mesh()
            .x_labels(5)
            .y_labels(5)
            .x_label_formatter(&|day| day_label(*day))
            .y_label_formatter(&|v| format!("{v:.1}"))
            .light_line_style(RGBColor(235, 238, 242))
            .axis_style(RGBColor(90, 90, 90))
            .label_style(("sans-serif", 13, &RGBColor(40, 40, 40)))
            .draw()
            .ok()?;
        if let Some((l, h)) = range {
            let band = RGBColor(214, 234, 220).filled();
            chart.draw_series(std::iter::once(Rectangle::new([(first, l), (last, h)], band))).ok()?;
        }
        let line = RGBColor(10, 74, 128);
        chart.draw_series(LineSeries::new(points.iter().copied(), line.stroke_width(2))).ok()?;
        chart.draw_series(points.iter().map(|p| Circle::new(*p, 4, line.filled()))).ok()?;
        root.present().ok()?;
    }
    Some(svg)
}

/// A Julian day as `2026-12`.
fn day_label(day: i32) -> String {
    match time::Date::from_julian_day(day) {
        Ok(date) => format!("{}-{:02}", date.year(), u8::from(date.month())),
        Err(_) => String::new(),
    }
}

/// The Julian day of a FHIR date or date-time.
pub fn julian_day(value: &str) -> Option<i32> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(value.get(..10)?, &format).ok().map(|d| d.to_julian_day())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trend_is_an_svg_with_its_band_and_needs_two_points() {
        let a = julian_day("2025-01-10").expect("day");
        let b = julian_day("2026-01-10").expect("day");
        let svg = trend(&[(a, 5.1), (b, 6.3)], Some((3.9, 5.5))).expect("drawn");
        assert!(svg.starts_with("<svg"), "{}", &svg[..60.min(svg.len())]);
        assert!(svg.contains("2025-"), "dates on the axis");
        assert!(trend(&[(a, 5.1)], None).is_none());
    }
}
