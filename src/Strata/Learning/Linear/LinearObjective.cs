using System.Buffers;

namespace Strata.Learning.Linear;

/// <summary>The loss a linear learner minimises.</summary>
internal enum LinearLoss
{
    /// <summary>Binary logistic: labels 0/1, one margin.</summary>
    Logistic,
    /// <summary>Multinomial logistic (softmax cross-entropy): labels 0..K-1, K margins.</summary>
    Multinomial,
    /// <summary>½(margin − y)².</summary>
    Squared,
    /// <summary>max(0, 1 − y·margin)² with y = ±1 (labels 0/1 in the data).</summary>
    SquaredHinge,
}

/// <summary>A smooth function to minimise: the value and the gradient at a point.</summary>
internal interface IObjective
{
    int Dimension { get; }

    double Evaluate(ReadOnlySpan<double> x, Span<double> gradient);
}

/// <summary>
/// The smooth part of a linear learner's objective, <c>Σᵢ aᵢ loss(yᵢ, marginᵢ) + (L2/2)‖β‖²</c> with
/// <c>aᵢ = wᵢ / Σw</c>, over θ laid out term-major (<c>θ[t·k + c]</c>) with the k intercepts last.
/// </summary>
/// <remarks>
/// Rows are cut into blocks whose size depends only on the row count; blocks may run on any thread, but each block's
/// partial gradient and loss are added up in block order, so the result is bit-identical whatever the thread count.
/// </remarks>
internal sealed class LinearObjective : IObjective
{
    private readonly LinearDesign _design;
    private readonly double[] _labels;
    private readonly double[] _rowFactor;
    private readonly LinearLoss _loss;
    private readonly double _l2;
    private readonly int _k;
    private readonly int _blockRows;
    private readonly int _blocks;
    private readonly double[][] _partialGradients;
    private readonly double[] _partialLoss;
    private readonly ParallelOptions _parallel;

    public LinearObjective(LinearDesign design, double[] labels, double[] rowFactor, LinearLoss loss, int k, double l2, int threads, CancellationToken cancellationToken)
    {
        _design = design;
        _labels = labels;
        _rowFactor = rowFactor;
        _loss = loss;
        _k = k;
        _l2 = l2;
        var rows = design.Rows;
        // NOTE: the block size depends on the row count only (never on threads), which keeps sums in a fixed order.
        _blockRows = Math.Max(2048, (rows + 63) / 64);
        _blocks = Math.Max(1, (rows + _blockRows - 1) / _blockRows);
        Dimension = (design.Terms + 1) * k;
        _partialGradients = new double[_blocks][];
        for (var b = 0; b < _blocks; b++)
        {
            _partialGradients[b] = new double[Dimension];
        }

        _partialLoss = new double[_blocks];
        _parallel = new ParallelOptions
        {
            MaxDegreeOfParallelism = threads > 0 ? threads : Environment.ProcessorCount,
            CancellationToken = cancellationToken,
        };
    }

    public int Dimension { get; }

    /// <summary>Coordinates [0, PenalizedCount) are weights; the intercepts after them are not penalised.</summary>
    public int PenalizedCount => _design.Terms * _k;

    public double Evaluate(ReadOnlySpan<double> x, Span<double> gradient)
    {
        var theta = x.ToArray();
        if (_blocks == 1)
        {
            EvaluateBlock(0, theta);
        }
        else
        {
            Parallel.For(0, _blocks, _parallel, b => EvaluateBlock(b, theta));
        }

        _parallel.CancellationToken.ThrowIfCancellationRequested();
        gradient.Clear();
        var loss = 0.0;
        for (var b = 0; b < _blocks; b++)
        {
            loss += _partialLoss[b];
            var partial = _partialGradients[b];
            for (var j = 0; j < gradient.Length; j++)
            {
                gradient[j] += partial[j];
            }
        }

        var penalized = PenalizedCount;
        var penalty = 0.0;
        if (_l2 > 0)
        {
            for (var j = 0; j < penalized; j++)
            {
                penalty += x[j] * x[j];
                gradient[j] += _l2 * x[j];
            }
        }

        return loss + (0.5 * _l2 * penalty);
    }

    /// <summary>Margins of every row under θ (row-major, k per row), in the standardised space.</summary>
    public double[] Margins(ReadOnlySpan<double> theta)
    {
        var margins = new double[_design.Rows * _k];
        FillMargins(0, _design.Rows, theta, margins);
        return margins;
    }

    private void FillMargins(int start, int count, ReadOnlySpan<double> theta, Span<double> margins)
    {
        var intercepts = theta.Slice(_design.Terms * _k, _k);
        for (var i = 0; i < count; i++)
        {
            intercepts.CopyTo(margins.Slice(i * _k, _k));
        }

        _design.AddMargins(start, count, _k, theta, margins);
    }

    private void EvaluateBlock(int block, double[] theta)
    {
        var start = block * _blockRows;
        var count = Math.Min(_blockRows, _design.Rows - start);
        var length = count * _k;
        var buffer = ArrayPool<double>.Shared.Rent(length);
        try
        {
            var margins = buffer.AsSpan(0, length);
            FillMargins(start, count, theta, margins);
            _partialLoss[block] = LossAndDerivatives(start, count, margins);
            var gradient = _partialGradients[block];
            Array.Clear(gradient);
            _design.AddGradient(start, count, _k, margins, gradient);
        }
        finally
        {
            ArrayPool<double>.Shared.Return(buffer);
        }
    }

    /// <summary>The weighted loss of the rows; overwrites each margin with aᵢ·∂loss/∂margin.</summary>
    private double LossAndDerivatives(int start, int count, Span<double> margins)
    {
        var loss = 0.0;
        for (var i = 0; i < count; i++)
        {
            var a = _rowFactor[start + i];
            var y = _labels[start + i];
            switch (_loss)
            {
                case LinearLoss.Logistic:
                {
                    var m = margins[i];
                    // log(1 + e^-m) for y = 1, log(1 + e^m) for y = 0, without overflow.
                    var signed = y > 0.5 ? -m : m;
                    loss += a * Softplus(signed);
                    margins[i] = a * (Sigmoid(m) - y);
                    break;
                }

                case LinearLoss.Multinomial:
                {
                    var row = margins.Slice(i * _k, _k);
                    var max = double.NegativeInfinity;
                    foreach (var m in row)
                    {
                        max = Math.Max(max, m);
                    }

                    var sum = 0.0;
                    for (var c = 0; c < _k; c++)
                    {
                        sum += Math.Exp(row[c] - max);
                    }

                    var logSum = max + Math.Log(sum);
                    var label = (int)y;
                    loss += a * (logSum - row[label]);
                    for (var c = 0; c < _k; c++)
                    {
                        row[c] = a * (Math.Exp(row[c] - logSum) - (c == label ? 1 : 0));
                    }

                    break;
                }

                case LinearLoss.Squared:
                {
                    var r = margins[i] - y;
                    loss += a * 0.5 * r * r;
                    margins[i] = a * r;
                    break;
                }

                default:
                {
                    var sign = y > 0.5 ? 1.0 : -1.0;
                    var u = 1 - (sign * margins[i]);
                    if (u > 0)
                    {
                        loss += a * u * u;
                        margins[i] = -2 * a * sign * u;
                    }
                    else
                    {
                        margins[i] = 0;
                    }

                    break;
                }
            }
        }

        return loss;
    }

    private static double Softplus(double x) => x > 0 ? x + Math.Log(1 + Math.Exp(-x)) : Math.Log(1 + Math.Exp(x));

    private static double Sigmoid(double m) => m >= 0 ? 1 / (1 + Math.Exp(-m)) : Math.Exp(m) / (1 + Math.Exp(m));
}
