using System.Globalization;
using System.Text;

namespace Strata.Learning.Metrics;

/// <summary>
/// Weighted counts of (true class, predicted class) pairs: rows are true classes, columns predicted ones, as
/// scikit-learn's <c>confusion_matrix</c>.
/// </summary>
public sealed class ConfusionMatrix
{
    private readonly double[] _cells;
    private readonly bool[] _occurs;

    private ConfusionMatrix(int classCount, double[] cells, bool[] occurs)
    {
        ClassCount = classCount;
        _cells = cells;
        _occurs = occurs;
    }

    /// <summary>Number of classes.</summary>
    public int ClassCount { get; }

    /// <summary>The (weighted) count of rows of class <paramref name="actual"/> predicted as <paramref name="predicted"/>.</summary>
    public double this[int actual, int predicted]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)actual, (uint)ClassCount, nameof(actual));
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)predicted, (uint)ClassCount, nameof(predicted));
            return _cells[(actual * ClassCount) + predicted];
        }
    }

    /// <summary>Total weight.</summary>
    public double Total => _cells.Sum();

    /// <summary>Weight on the diagonal.</summary>
    public double Correct
    {
        get
        {
            var sum = 0.0;
            for (var c = 0; c < ClassCount; c++)
            {
                sum += _cells[(c * ClassCount) + c];
            }

            return sum;
        }
    }

    /// <summary>True when a class occurs among the true or predicted labels (even with zero weight).</summary>
    public bool Occurs(int classIndex) => _occurs[classIndex];

    /// <summary>Counts labels against predictions (class indices in 0..classCount-1; weights optional).</summary>
    /// <exception cref="StrataException">A class index out of range or a negative weight.</exception>
    public static ConfusionMatrix Compute(ReadOnlySpan<int> labels, ReadOnlySpan<int> predicted, int classCount, ReadOnlySpan<double> weights = default)
    {
        MetricInput.Check(labels.Length, predicted.Length, nameof(predicted), weights);
        MetricInput.CheckClasses(labels, classCount);
        MetricInput.CheckClasses(predicted, classCount, "predicted class");
        var cells = new double[classCount * classCount];
        var occurs = new bool[classCount];
        for (var i = 0; i < labels.Length; i++)
        {
            cells[(labels[i] * classCount) + predicted[i]] += MetricInput.Weight(weights, i);
            occurs[labels[i]] = true;
            occurs[predicted[i]] = true;
        }

        return new ConfusionMatrix(classCount, cells, occurs);
    }

    /// <summary>The matrix as aligned text, rows = true class, columns = predicted class.</summary>
    public string ToText(IReadOnlyList<string>? classLabels = null)
    {
        string Name(int c) => classLabels is not null && c < classLabels.Count ? classLabels[c] : c.ToString(CultureInfo.InvariantCulture);
        var cells = new string[ClassCount + 1, ClassCount + 1];
        cells[0, 0] = "true\\pred";
        for (var c = 0; c < ClassCount; c++)
        {
            cells[0, c + 1] = Name(c);
            cells[c + 1, 0] = Name(c);
            for (var p = 0; p < ClassCount; p++)
            {
                cells[c + 1, p + 1] = this[c, p].ToString("G6", CultureInfo.InvariantCulture);
            }
        }

        var width = new int[ClassCount + 1];
        for (var col = 0; col <= ClassCount; col++)
        {
            for (var row = 0; row <= ClassCount; row++)
            {
                width[col] = Math.Max(width[col], cells[row, col].Length);
            }
        }

        var text = new StringBuilder();
        for (var row = 0; row <= ClassCount; row++)
        {
            for (var col = 0; col <= ClassCount; col++)
            {
                text.Append(col == 0 ? cells[row, col].PadRight(width[col]) : "  " + cells[row, col].PadLeft(width[col]));
            }

            text.Append('\n');
        }

        return text.ToString();
    }
}
