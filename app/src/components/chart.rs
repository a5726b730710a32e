//! A small SVG line chart (no JS dependency): one polyline per series over shared axes.

use leptos::prelude::*;

const WIDTH: f64 = 480.0;
const HEIGHT: f64 = 200.0;
const PAD: f64 = 32.0;
const COLOURS: [&str; 4] = ["#2b6cb0", "#2f855a", "#c53030", "#b7791f"];

/// Maps `(x, y)` points into the chart's pixel box (`all` sets the axes); `None` for no points.
pub fn scale(points: &[(f64, f64)], all: &[(f64, f64)]) -> Option<Vec<(f64, f64)>> {
    let (x0, x1) = bounds(all.iter().map(|p| p.0))?;
    let (y0, y1) = bounds(all.iter().map(|p| p.1))?;
    let sx = |x: f64| PAD + (x - x0) / (x1 - x0).max(1e-9) * (WIDTH - 2.0 * PAD);
    let sy = |y: f64| HEIGHT - PAD - (y - y0) / (y1 - y0).max(1e-9) * (HEIGHT - 2.0 * PAD);
    (!points.is_empty()).then(|| points.iter().map(|&(x, y)| (sx(x), sy(y))).collect())
}

/// SVG `points` text for pixel points.
pub fn polyline(pixels: &[(f64, f64)]) -> String {
    pixels
        .iter()
        .map(|(x, y)| format!("{x:.1},{y:.1}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn bounds(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values.fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

#[component]
pub fn LineChart(
    label: &'static str,
    series: Vec<(&'static str, Vec<(f64, f64)>)>,
    /// What x counts, for the axis labels.
    #[prop(default = "round")]
    x_name: &'static str,
) -> impl IntoView {
    let all: Vec<(f64, f64)> = series.iter().flat_map(|(_, s)| s.iter().copied()).collect();
    view! {
        <figure class="chart">
            <svg role="img" aria-label=label viewBox=format!("0 0 {WIDTH} {HEIGHT}")
                width=WIDTH height=HEIGHT>
                <line x1=PAD y1=HEIGHT - PAD x2=WIDTH - PAD y2=HEIGHT - PAD stroke="#a0aec0"/>
                <line x1=PAD y1=PAD x2=PAD y2=HEIGHT - PAD stroke="#a0aec0"/>
                {bounds(all.iter().map(|p| p.1)).map(|(lo, hi)| view! {
                    <text x=PAD - 4.0 y=PAD + 4.0 text-anchor="end" font-size="10">{format!("{hi:.2}")}</text>
                    <text x=PAD - 4.0 y=HEIGHT - PAD text-anchor="end" font-size="10">{format!("{lo:.2}")}</text>
                })}
                {bounds(all.iter().map(|p| p.0)).map(|(lo, hi)| view! {
                    <text x=PAD y=HEIGHT - PAD + 14.0 font-size="10">{format!("{x_name} {lo}")}</text>
                    <text x=WIDTH - PAD y=HEIGHT - PAD + 14.0 text-anchor="end" font-size="10">{format!("{x_name} {hi}")}</text>
                })}
                {series.iter().enumerate().map(|(i, (_, points))| {
                    let colour = COLOURS[i % COLOURS.len()];
                    scale(points, &all).map(|px| view! {
                        <polyline points=polyline(&px) fill="none" stroke=colour stroke-width="2"/>
                        {px.iter().map(|&(x, y)| view! { <circle cx=x cy=y r="3" fill=colour/> }).collect_view()}
                    })
                }).collect_view()}
            </svg>
            <figcaption>
                {series.iter().enumerate().map(|(i, (name, _))| view! {
                    <span class="legend" style=format!("color: {}", COLOURS[i % COLOURS.len()])>{format!("— {name} ")}</span>
                }).collect_view()}
            </figcaption>
        </figure>
    }
}
