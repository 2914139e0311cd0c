using System.Globalization;
using System.Net;
using System.Text;
using Strata.Monitoring.Skew;
using Strata.Stores;

namespace Strata.Monitoring.Reports;

/// <summary>
/// A self-contained HTML report of an endpoint's monitor results: drift score over time, quality over time, training–
/// serving skew per feature over time, and each feature's reference and current histograms. Inline SVG and CSS only — no script, no font, no network — so it opens
/// anywhere, offline, and can be mailed as one file.
/// </summary>
public static class MonitorReport
{
    private const int Width = 760;
    private const int Height = 220;
    private const string ReferenceColor = "#6b7280";
    private const string CurrentColor = "#2563eb";
    private const string DriftColor = "#dc2626";

    /// <summary>
    /// The report over <paramref name="results"/> (one endpoint, any checks, in window order). The histograms come from
    /// the newest data-drift window that has them (or the window starting at <paramref name="histogramWindow"/>).
    /// </summary>
    public static string Html(string title, IReadOnlyList<MonitorResult> results, long? histogramWindow = null)
    {
        ArgumentNullException.ThrowIfNull(title);
        ArgumentNullException.ThrowIfNull(results);
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">")
            .Append("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">")
            .Append("<title>").Append(E(title)).Append("</title><style>")
            .Append("body{font-family:system-ui,sans-serif;margin:24px;color:#111827;max-width:820px}h1{font-size:22px}h2{font-size:17px;margin-top:28px}")
            .Append("table{border-collapse:collapse;font-size:13px}td,th{border-bottom:1px solid #e5e7eb;padding:3px 8px;text-align:left}")
            .Append(".drift{color:").Append(DriftColor).Append(";font-weight:600}.insufficient{color:#9ca3af}.legend span{margin-right:14px}")
            .Append("svg text{font-size:11px;fill:#374151}</style></head><body>");
        html.Append("<h1>").Append(E(title)).Append("</h1>");
        if (results.Count == 0)
        {
            html.Append("<p>No monitor results in this range.</p></body></html>");
            return html.ToString();
        }

        html.Append("<p>").Append(results.Select(r => r.WindowStart).Distinct().Count()).Append(" windows from ")
            .Append(E(Time(results.Min(r => r.WindowStart)))).Append(" to ").Append(E(Time(results.Max(r => r.WindowEnd))))
            .Append(" (UTC).</p>");

        Section(html, "Data drift over time (share of drifted features)", results, MonitorChecks.DataDrift, 0.5);
        Section(html, "Prediction drift over time (score)", results, MonitorChecks.PredictionDrift, null);
        var quality = results.Where(r => r.Check.StartsWith(MonitorChecks.Quality + ".", StringComparison.Ordinal)).Select(r => r.Check).Distinct().Order(StringComparer.Ordinal).ToList();
        if (quality.Count > 0)
        {
            html.Append("<h2>Quality over time</h2>");
            foreach (var check in quality)
            {
                html.Append("<h3 style=\"font-size:14px\">").Append(E(check["quality.".Length..])).Append("</h3>");
                html.Append(LineChart([.. results.Where(r => r.Check == check)], null));
            }
        }

        SkewSection(html, [.. results.Where(r => r.Check == MonitorChecks.Skew)]);
        var window = results.Where(r => r.Check == MonitorChecks.DataDrift && r.Details is not null && (histogramWindow is null || r.WindowStart == histogramWindow))
            .OrderBy(r => r.WindowStart).LastOrDefault();
        if (MonitorRunner.ReadDetails(window?.Details) is { } details)
        {
            html.Append("<h2>Features, window from ").Append(E(Time(window!.WindowStart))).Append("</h2>");
            html.Append("<p class=\"legend\"><span style=\"color:").Append(ReferenceColor).Append("\">■ reference</span><span style=\"color:")
                .Append(CurrentColor).Append("\">■ current</span></p><table><tr><th>feature</th><th>method</th><th>score</th><th>p-value</th><th>threshold</th><th>status</th></tr>");
            foreach (var f in details.Features)
            {
                html.Append("<tr><td>").Append(E(f.Feature)).Append("</td><td>").Append(E(f.Method)).Append("</td><td>").Append(F(f.Score))
                    .Append("</td><td>").Append(F(f.PValue)).Append("</td><td>").Append(F(f.Threshold)).Append("</td><td class=\"")
                    .Append(StatusClass(f.Status)).Append("\">").Append(E(f.Status)).Append("</td></tr>");
            }

            html.Append("</table>");
            foreach (var f in details.Features.Where(f => f.Bins.Count > 0))
            {
                html.Append("<h3 style=\"font-size:14px\">").Append(E(f.Feature)).Append(" <span class=\"").Append(StatusClass(f.Status)).Append("\">")
                    .Append(E(f.Status)).Append("</span></h3>").Append(BarChart(f.Bins, f.Reference, f.Current));
            }
        }

        html.Append("<h2>Results</h2><table><tr><th>window (UTC)</th><th>check</th><th>version</th><th>rows</th><th>score</th><th>status</th></tr>");
        foreach (var r in results)
        {
            html.Append("<tr><td>").Append(E(Time(r.WindowStart))).Append("</td><td>").Append(E(r.Check)).Append("</td><td>").Append(r.ModelVersion)
                .Append("</td><td>").Append(r.Rows).Append("</td><td>").Append(F(r.Score)).Append("</td><td class=\"").Append(StatusClass(r.Status))
                .Append("\">").Append(E(r.Status)).Append("</td></tr>");
        }

        html.Append("</table></body></html>");
        return html.ToString();
    }

    private static void Section(StringBuilder html, string heading, IReadOnlyList<MonitorResult> results, string check, double? threshold)
    {
        var series = results.Where(r => r.Check == check).ToList();
        if (series.Count > 0)
        {
            html.Append("<h2>").Append(E(heading)).Append("</h2>").Append(LineChart(series, threshold));
        }
    }

    /// <summary>
    /// Training–serving skew: each compared feature's mismatch share per window (a chart per feature, its threshold dashed),
    /// and a table of the features with how many windows found them skewed.
    /// </summary>
    private static void SkewSection(StringBuilder html, IReadOnlyList<MonitorResult> skew)
    {
        if (skew.Count == 0)
        {
            return;
        }

        var windows = skew.Select(r => (Result: r, Details: SkewResults.ReadDetails(r.Details))).Where(w => w.Details is not null).ToList();
        var features = windows.SelectMany(w => w.Details!.Features.Select(f => f.Feature)).Distinct().Order(StringComparer.Ordinal).ToList();
        html.Append("<h2>Training–serving skew (share of served values that differ from the offline store's)</h2>");
        html.Append("<table><tr><th>feature</th><th>skewed windows</th><th>decided windows</th><th>largest share</th><th>latest share</th><th>latest mean |diff|</th><th>threshold</th><th>latest status</th></tr>");
        var series = new List<(string Feature, List<MonitorResult> Points, double Threshold)>();
        foreach (var feature in features)
        {
            var points = windows.Select(w => (w.Result, Feature: w.Details!.Features.FirstOrDefault(f => f.Feature == feature))).Where(p => p.Feature is not null).ToList();
            var decided = points.Where(p => p.Feature!.Status != "insufficient_data").ToList();
            var latest = points[^1].Feature!;
            html.Append("<tr><td>").Append(E(feature)).Append("</td><td>").Append(points.Count(p => p.Feature!.Status == "skewed")).Append("</td><td>")
                .Append(decided.Count).Append("</td><td>").Append(F(decided.Count == 0 ? null : decided.Max(p => p.Feature!.MismatchShare))).Append("</td><td>")
                .Append(F(latest.Status == "insufficient_data" ? null : latest.MismatchShare)).Append("</td><td>").Append(F(latest.MeanAbsoluteDifference))
                .Append("</td><td>").Append(F(latest.Threshold)).Append("</td><td class=\"").Append(StatusClass(latest.Status)).Append("\">")
                .Append(E(latest.Status)).Append("</td></tr>");
            series.Add((feature, [.. points.Select(p => p.Result with
            {
                Score = p.Feature!.Status == "insufficient_data" ? null : p.Feature.MismatchShare,
                Status = p.Feature.Status,
            })], latest.Threshold));
        }

        html.Append("</table>");
        var notCompared = windows.SelectMany(w => w.Details!.NotCompared).Distinct().Order(StringComparer.Ordinal).ToList();
        if (notCompared.Count > 0)
        {
            html.Append("<p class=\"insufficient\">Not compared (on-demand, computed from the features above): ").Append(E(string.Join(", ", notCompared))).Append("</p>");
        }

        foreach (var (feature, points, threshold) in series)
        {
            html.Append("<h3 style=\"font-size:14px\">").Append(E(feature)).Append("</h3>").Append(LineChart(points, threshold));
        }
    }

    /// <summary>Score per window as a line with a dot per window (red when drifted, grey and on the axis when there was too little data).</summary>
    private static string LineChart(IReadOnlyList<MonitorResult> series, double? threshold)
    {
        const int Left = 48, Right = 12, Top = 10, Bottom = 30;
        var points = series.GroupBy(r => r.WindowStart).Select(g => g.OrderBy(r => r.ModelVersion).Last()).OrderBy(r => r.WindowStart).ToList();
        var x0 = points[0].WindowStart;
        var x1 = Math.Max(points[^1].WindowStart, x0 + 1);
        var values = points.Where(p => p.Score is not null).Select(p => p.Score!.Value).ToList();
        var yMax = Math.Max(values.Count > 0 ? values.Max() : 1, threshold ?? 0);
        var yMin = Math.Min(values.Count > 0 ? values.Min() : 0, 0);
        yMax = yMax > yMin ? yMax * 1.05 : yMin + 1;
        double X(long t) => Left + ((double)(t - x0) / (x1 - x0) * (Width - Left - Right));
        double Y(double v) => Top + ((1 - ((v - yMin) / (yMax - yMin))) * (Height - Top - Bottom));

        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" viewBox=\"0 0 {Width} {Height}\" role=\"img\">");
        svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left}\" y1=\"{Y(yMin):0.#}\" x2=\"{Width - Right}\" y2=\"{Y(yMin):0.#}\" stroke=\"#9ca3af\"/>");
        svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left}\" y1=\"{Top}\" x2=\"{Left}\" y2=\"{Y(yMin):0.#}\" stroke=\"#9ca3af\"/>");
        foreach (var v in new[] { yMin, (yMin + yMax) / 2, yMax })
        {
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left - 4}\" y=\"{Y(v) + 4:0.#}\" text-anchor=\"end\">{v:G3}</text>");
        }

        if (threshold is { } t)
        {
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left}\" y1=\"{Y(t):0.#}\" x2=\"{Width - Right}\" y2=\"{Y(t):0.#}\" stroke=\"{DriftColor}\" stroke-dasharray=\"4 3\"/>");
        }

        var path = string.Join(' ', points.Where(p => p.Score is not null).Select((p, i) =>
            string.Create(CultureInfo.InvariantCulture, $"{(i == 0 ? 'M' : 'L')}{X(p.WindowStart):0.#},{Y(p.Score!.Value):0.#}")));
        if (path.Length > 0)
        {
            svg.Append("<path d=\"").Append(path).Append("\" fill=\"none\" stroke=\"").Append(CurrentColor).Append("\" stroke-width=\"1.5\"/>");
        }

        foreach (var p in points)
        {
            var color = p.Status is "drift" or "skewed" ? DriftColor : p.Score is null ? "#9ca3af" : CurrentColor;
            svg.Append(CultureInfo.InvariantCulture, $"<circle cx=\"{X(p.WindowStart):0.#}\" cy=\"{Y(p.Score ?? yMin):0.#}\" r=\"3.5\" fill=\"{color}\"><title>{E(Time(p.WindowStart))}: {E(p.Status)} {F(p.Score)}</title></circle>");
        }

        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left}\" y=\"{Height - 8}\">{E(Time(x0))}</text>");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Width - Right}\" y=\"{Height - 8}\" text-anchor=\"end\">{E(Time(points[^1].WindowStart))}</text>");
        return svg.Append("</svg>").ToString();
    }

    /// <summary>Reference and current shares side by side per bin.</summary>
    private static string BarChart(List<string> labels, List<double> reference, List<double> current)
    {
        const int Left = 40, Bottom = 40, Top = 8, ChartHeight = 180;
        var n = labels.Count;
        var max = Math.Max(1e-12, reference.Concat(current).DefaultIfEmpty(0).Max());
        var slot = (double)(Width - Left - 10) / n;
        var bar = Math.Max(1, (slot - 2) / 2);
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{ChartHeight}\" viewBox=\"0 0 {Width} {ChartHeight}\" role=\"img\">");
        var plot = ChartHeight - Top - Bottom;
        for (var i = 0; i < n; i++)
        {
            var x = Left + (i * slot);
            var hr = reference[i] / max * plot;
            var hc = current[i] / max * plot;
            svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{x:0.#}\" y=\"{Top + plot - hr:0.#}\" width=\"{bar:0.#}\" height=\"{hr:0.#}\" fill=\"{ReferenceColor}\"><title>{E(labels[i])}: reference {reference[i]:P1}</title></rect>");
            svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{x + bar:0.#}\" y=\"{Top + plot - hc:0.#}\" width=\"{bar:0.#}\" height=\"{hc:0.#}\" fill=\"{CurrentColor}\"><title>{E(labels[i])}: current {current[i]:P1}</title></rect>");
            if (n <= 20 && (n <= 10 || i % 2 == 0))
            {
                svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{x:0.#}\" y=\"{Top + plot + 14}\">{E(Shorten(labels[i]))}</text>");
            }
        }

        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left - 4}\" y=\"{Top + 10}\" text-anchor=\"end\">{max:P0}</text>");
        svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left}\" y1=\"{Top + plot}\" x2=\"{Width - 10}\" y2=\"{Top + plot}\" stroke=\"#9ca3af\"/>");
        return svg.Append("</svg>").ToString();
    }

    private static string Shorten(string s) => s.Length <= 10 ? s : s[..9] + "…";

    private static string StatusClass(string status) => status switch
    {
        "drift" or "skewed" => "drift",
        "insufficient_data" => "insufficient",
        _ => "ok",
    };

    private static string Time(long micros) =>
        DateTimeOffset.FromUnixTimeMilliseconds(micros / 1000).UtcDateTime.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);

    private static string F(double? value) => value is { } v && double.IsFinite(v) ? v.ToString("G4", CultureInfo.InvariantCulture) : "–";

    private static string E(string text) => WebUtility.HtmlEncode(text);
}
