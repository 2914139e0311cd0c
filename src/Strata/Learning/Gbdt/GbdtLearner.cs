using System.Diagnostics;
using System.Runtime.CompilerServices;
using Strata.Data.Profiling;

namespace Strata.Learning.Gbdt;

/// <summary>
/// Histogram gradient-boosted trees (XGBoost's hist / LightGBM's algorithm): features binned once into bytes, per-node
/// gradient histograms with subtraction, numeric splits with a learned direction for missing values, categorical splits
/// on category subsets, depth-wise or loss-guided growth, early stopping on a validation set. The same data, options and
/// seed give a bit-identical model whatever the thread count.
/// </summary>
/// <remarks>
/// Histograms sum gradients quantized per tree to 15 bits (the largest |gradient| is 32767 units) and hessians to 16 bits,
/// as integers: one add per value, and sums that are exact in any order. Split gains, leaf weights and
/// <see cref="TreeEnsemble.Cover"/> come from those sums, so they differ from unquantized ones by less than 2e-5 of the
/// largest gradient per row (LightGBM's quantized training uses 2–4 bits).
/// </remarks>
public sealed class GbdtLearner : ILearner
{
    private readonly GbdtOptions _options;

    /// <summary>Creates a learner; null takes the defaults.</summary>
    /// <exception cref="StrataException">An option is out of range.</exception>
    public GbdtLearner(GbdtOptions? options = null)
    {
        _options = options ?? new GbdtOptions();
        _options.Validate();
    }

    /// <summary>The options.</summary>
    public GbdtOptions Options => _options;

    /// <summary>Where the last <see cref="Fit"/> spent its time.</summary>
    internal GbdtTimings? LastTimings { get; private set; }

    /// <inheritdoc />
    public string Name => "gbdt";

    /// <inheritdoc />
    public IReadOnlyDictionary<string, string> Settings => _options.ToSettings();

    /// <inheritdoc />
    /// <remarks>
    /// Categorical inputs carry their categories only once trained (they come from the data), and a multiclass model's
    /// per-class probability outputs are named after classes the data will tell; before training they are absent.
    /// </remarks>
    public ModelSignature GetOutputSchema(Schema schema, TrainingSpec spec)
    {
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentNullException.ThrowIfNull(spec);
        if (!schema.Contains(spec.Label))
        {
            throw new StrataException(ErrorCodes.SchemaInvalid, $"no label column '{spec.Label}' (columns: {string.Join(", ", schema.Names)})");
        }

        var names = spec.Features ?? schema.Where(f => f.Role == FieldRole.Feature && f.Name != spec.Label && f.Name != spec.Weight).Select(f => f.Name).ToList();
        var missing = names.Where(n => !schema.Contains(n)).ToList();
        if (missing.Count > 0)
        {
            throw new StrataException(ErrorCodes.SchemaInvalid, $"feature column(s) {string.Join(", ", missing.Select(m => $"'{m}'"))} are not in the data");
        }

        if (names.Count == 0)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, "no feature columns: every column is the label, the weight, or has a non-feature role");
        }

        var forced = new HashSet<string>(spec.Categorical ?? [], StringComparer.Ordinal);
        var inputs = new List<ModelInput>();
        foreach (var name in names)
        {
            var type = schema[name].Type;
            var kind = type == DataType.String || forced.Contains(name) ? FeatureKind.Categorical : FeatureKind.Numeric;
            if (kind == FeatureKind.Categorical && type is DataType.Float32 or DataType.Float64 or DataType.Timestamp)
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"column '{name}' is {type.Name()}: only text, integer or bool columns can be categorical");
            }

            inputs.Add(new ModelInput(name, type, kind));
        }

        var task = spec.Task ?? TaskOfObjective(_options.Objective) ?? schema[spec.Label].Type switch
        {
            DataType.Bool => LearningTask.BinaryClassification,
            DataType.Float32 or DataType.Float64 => LearningTask.Regression,
            var t => throw new StrataException(ErrorCodes.ArgumentInvalid,
                $"gbdt: cannot tell the task of a {t.Name()} label '{spec.Label}' before seeing the data; set the task or the objective"),
        };
        _ = ResolveObjective(_options.Objective, task);
        return new ModelSignature(inputs, ModelSignature.OutputsFor(task, null));
    }

    /// <inheritdoc />
    public Task<Model> FitAsync(TrainingData train, TrainingData? valid = null, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(train);
        return Task.Run<Model>(() => Fit(train, valid, progress, cancellationToken), cancellationToken);
    }

    /// <summary>Trains synchronously on the calling thread (and the thread pool): what <see cref="FitAsync"/> runs.</summary>
    public TreeEnsembleModel Fit(TrainingData train, TrainingData? valid = null, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(train);
        var o = _options;
        if (train.Rows == 0)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, "gbdt: there are no rows to learn from");
        }

        var task = train.Task;
        var classes = task == LearningTask.Regression ? 1 : train.ClassLabels!.Count;
        if (o.NumClass > 0 && task == LearningTask.Regression)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"gbdt: num_class={o.NumClass} is set but the task is regression");
        }

        if (o.NumClass > 0 && o.NumClass != classes)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid,
                $"gbdt: num_class={o.NumClass} but the label '{train.LabelName}' has {classes} classes ({string.Join(", ", train.ClassLabels!.Take(10))})");
        }

        var objective = Objective.Create(ResolveObjective(o.Objective, task), classes, o);
        objective.CheckLabels(train.Labels);
        var metric = o.EvalMetric ?? objective.DefaultMetric;
        EvalMetrics.Check(metric, objective);
        if (valid is not null)
        {
            CheckValidation(train, valid);
        }

        var started = Stopwatch.GetTimestamp();
        var threads = Parallelism.Threads(o.NThread);
        var weights = Weights(train, o);
        var splitParams = new SplitParams(o.RegLambda, o.RegAlpha, o.MaxDeltaStep, o.MinChildWeight, o.MinSplitGain,
            o.MaxCatToOnehot, o.MaxCatThreshold, o.CatSmooth, o.CatL2, o.MinDataPerGroup);
        var data = BinnedMatrix.Build(train.Features, o.MaxBin, o.BinConstructSampleCount, o.Seed, threads);
        var validData = valid is null ? null : BinnedMatrix.Apply(valid.Features, data.Features, threads);
        var binned = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var k = objective.Outputs;
        var n = train.Rows;
        var baseMargins = objective.BaseMargins(train.Labels, weights);
        var scores = new double[k][];
        var validScores = new double[k][];
        var gradHess = new float[k][];
        for (var c = 0; c < k; c++)
        {
            scores[c] = new double[n];
            scores[c].AsSpan().Fill(baseMargins[c]);
            gradHess[c] = GC.AllocateUninitializedArray<float>(checked(2 * n));
            validScores[c] = new double[valid?.Rows ?? 0];
            validScores[c].AsSpan().Fill(baseMargins[c]);
        }

        var grower = new TreeGrower(data, o, splitParams, threads, leafRows: objective.RefitMedian);
        var packed = GC.AllocateUninitializedArray<long>(n);
        var timings = grower.Timings;
        timings.Binning = binned;
        var trees = new List<BuiltTree>();
        var allFeatures = Enumerable.Repeat(true, data.FeatureCount).ToArray();
        var bestRound = -1;
        var bestValue = double.NaN;
        var higher = EvalMetrics.HigherIsBetter(metric);
        var outOfBag = o.Subsample < 1 ? new List<int>() : null;
        const int GradientBlock = 16384;
        var gradientBlocks = (n + GradientBlock - 1) / GradientBlock;
        for (var round = 0; round < o.NumBoostRound; round++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var phase = Stopwatch.GetTimestamp();
            Parallelism.For(gradientBlocks, threads, t =>
            {
                var start = t * GradientBlock;
                objective.Gradients(scores, train.Labels, weights, gradHess, start, Math.Min(n, start + GradientBlock));
            });
            timings.Gradients += Stopwatch.GetElapsedTime(phase).TotalSeconds;
            for (var c = 0; c < k; c++)
            {
                var treeSeed = SplitMix64.Mix(o.Seed, ((ulong)round * (ulong)k) + (ulong)c + 1);
                var rowCount = n;
                var identity = true;
                if (outOfBag is not null)
                {
                    rowCount = Bag(grower.Rows, outOfBag, n, o.Subsample, SplitMix64.Mix(treeSeed, 0xBA66UL));
                    identity = false;
                }
                else
                {
                    FillIdentity(grower.Rows, threads);
                }

                var features = o.ColsampleByTree < 1 ? TreeGrower.Sample(allFeatures, o.ColsampleByTree, SplitMix64.Mix(treeSeed, 0xC07UL)) : allFeatures;
                phase = Stopwatch.GetTimestamp();
                var (gradientUnit, hessianUnit) = Quantize(gradHess[c], packed, threads);
                timings.Gradients += Stopwatch.GetElapsedTime(phase).TotalSeconds;
                var nodes = grower.Grow(packed, gradientUnit, hessianUnit, rowCount, identity, features, treeSeed, cancellationToken);
                phase = Stopwatch.GetTimestamp();
                var tree = BuiltTree.From(nodes, c, data, splitParams, o.LearningRate);
                if (objective.RefitMedian)
                {
                    RefitMedians(tree, nodes, grower.Rows, scores[c], train.Labels, weights, o.LearningRate, threads);
                }

                AddLeaves(tree, nodes, grower.Rows, data, scores[c], threads);
                if (outOfBag is { Count: > 0 })
                {
                    tree.AddTo(data, outOfBag, scores[c]);
                }

                if (validData is not null)
                {
                    tree.AddTo(validData, validScores[c], threads);
                }

                trees.Add(tree);
                timings.Update += Stopwatch.GetElapsedTime(phase).TotalSeconds;
            }

            double? validValue = null;
            if (valid is not null)
            {
                var value = EvalMetrics.Compute(metric, validScores, valid.Labels, valid.Weights, o.HuberDelta);
                validValue = value;
                if (bestRound < 0 || (higher ? value > bestValue : value < bestValue))
                {
                    (bestRound, bestValue) = (round, value);
                }
            }

            progress?.Report(new TrainingProgress(round + 1, o.NumBoostRound, valid is null ? null : metric, null, validValue));
            if (valid is not null && o.EarlyStoppingRounds > 0 && round - bestRound >= o.EarlyStoppingRounds)
            {
                break;
            }
        }

        var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
        if (valid is not null)
        {
            if (o.EarlyStoppingRounds > 0)
            {
                trees.RemoveRange((bestRound + 1) * k, trees.Count - ((bestRound + 1) * k));
                metrics["best_round"] = bestRound + 1;
            }

            metrics["valid_" + metric] = o.EarlyStoppingRounds > 0 ? bestValue : EvalMetrics.Compute(metric, validScores, valid.Labels, valid.Weights, o.HuberDelta);
        }

        var ensemble = BuiltTree.ToEnsemble(trees, data.FeatureCount, baseMargins);
        timings.Total = Stopwatch.GetElapsedTime(started).TotalSeconds;
        LastTimings = timings;
        var signature = new ModelSignature(train.Features.Inputs, ModelSignature.OutputsFor(task, train.ClassLabels));
        return new TreeEnsembleModel(Name, task, signature, train.ClassLabels, objective.Transform, Settings, ensemble) { Metrics = metrics, LabelName = train.LabelName, TrainingDataFingerprint = train.Fingerprint };
    }

    /// <summary>
    /// Packs each row's gradient and hessian into quantization units (see <see cref="Histograms"/>): the largest |gradient|
    /// becomes 32767 units and the largest hessian 65535, rounding to nearest (relative error below 2e-5 of the largest).
    /// Returns what one unit is worth. Maxima are exact in any order, so the units do not depend on the thread count.
    /// </summary>
    private static (double GradientUnit, double HessianUnit) Quantize(float[] gradHess, long[] packed, int threads)
    {
        const int Block = 1 << 16;
        var n = packed.Length;
        var blocks = (n + Block - 1) / Block;
        var gMax = new float[blocks];
        var hMax = new float[blocks];
        Parallelism.For(blocks, threads, b =>
        {
            var span = gradHess.AsSpan(2 * b * Block, 2 * (Math.Min(n, (b + 1) * Block) - (b * Block)));
            float g = 0, h = 0;
            for (var i = 0; i < span.Length; i += 2)
            {
                g = MathF.Max(g, MathF.Abs(span[i]));
                h = MathF.Max(h, span[i + 1]);
            }

            (gMax[b], hMax[b]) = (g, h);
        });
        var gradientScale = gMax.Max() is var gm && gm > 0 ? Histograms.GradientLevels / (double)gm : 1;
        var hessianScale = hMax.Max() is var hm && hm > 0 ? Histograms.HessianLevels / (double)hm : 1;
        Parallelism.For(blocks, threads, b =>
        {
            var end = Math.Min(n, (b + 1) * Block);
            Histograms.Quantize(gradHess.AsSpan(2 * b * Block, 2 * (end - (b * Block))), gradientScale, hessianScale, packed.AsSpan(b * Block, end - (b * Block)));
        });
        return (1 / gradientScale, 1 / hessianScale);
    }

    private static LearningTask? TaskOfObjective(string? objective) => objective is null ? null : GbdtOptions.ObjectiveName(objective) switch
    {
        "binary:logistic" => LearningTask.BinaryClassification,
        "multi:softmax" => LearningTask.MulticlassClassification,
        _ => LearningTask.Regression,
    };

    /// <summary>The objective for a task: the given one when it fits, the task's default otherwise.</summary>
    private static string ResolveObjective(string? objective, LearningTask task)
    {
        var name = objective is null ? null : GbdtOptions.ObjectiveName(objective);
        var ok = name is null || task switch
        {
            LearningTask.BinaryClassification => name == "binary:logistic",
            LearningTask.MulticlassClassification => name == "multi:softmax",
            _ => name != "multi:softmax",
        };
        if (!ok)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"gbdt: objective {objective} cannot learn a {task.Name()} task");
        }

        return name ?? task switch
        {
            LearningTask.BinaryClassification => "binary:logistic",
            LearningTask.MulticlassClassification => "multi:softmax",
            _ => "reg:squarederror",
        };
    }

    private static void CheckValidation(TrainingData train, TrainingData valid)
    {
        var a = train.Features.Inputs;
        var b = valid.Features.Inputs;
        if (a.Count != b.Count || Enumerable.Range(0, a.Count).Any(i => a[i].Name != b[i].Name || a[i].Kind != b[i].Kind)
            || valid.Task != train.Task || (train.ClassLabels is not null && !train.ClassLabels.SequenceEqual(valid.ClassLabels ?? [])))
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid,
                "gbdt: the validation set is encoded differently from the training set; prepare it with TrainingData.FromTable(table, spec, like: train)");
        }
    }

    /// <summary>Sample weights × class weights × scale_pos_weight, or null when all are one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float[]? Weights(TrainingData train, GbdtOptions o)
    {
        double[]? perClass = null;
        if (train.ClassLabels is { } labels)
        {
            if (o.ClassWeights == "balanced")
            {
                var counts = new double[labels.Count];
                foreach (var y in train.Labels)
                {
                    counts[(int)y]++;
                }

                perClass = counts.Select(c => c > 0 ? train.Rows / (labels.Count * c) : 1).ToArray();
            }
            else if (o.ClassWeights is { } text)
            {
                perClass = Enumerable.Repeat(1.0, labels.Count).ToArray();
                foreach (var (label, w) in GbdtOptions.ParseClassWeights(text))
                {
                    var index = labels.ToList().IndexOf(label);
                    perClass[index >= 0 ? index : throw new StrataException(ErrorCodes.ArgumentInvalid,
                        $"gbdt: class_weights names class '{label}', which the label does not have ({string.Join(", ", labels.Take(10))})")] = w;
                }
            }

            if (train.Task == LearningTask.BinaryClassification && o.ScalePosWeight != 1)
            {
                perClass ??= [1.0, 1.0];
                perClass[1] *= o.ScalePosWeight;
            }
        }
        else if (o.ClassWeights is not null)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, "gbdt: class_weights needs a classification task");
        }

        if (perClass is null)
        {
            return train.Weights;
        }

        var result = new float[train.Rows];
        for (var r = 0; r < result.Length; r++)
        {
            result[r] = (float)((train.Weights?[r] ?? 1f) * perClass[(int)train.Labels[r]]);
        }

        return result;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void FillIdentity(int[] rows, int threads)
    {
        const int Block = 1 << 16;
        Parallelism.For((rows.Length + Block - 1) / Block, threads, b =>
        {
            var end = Math.Min(rows.Length, (b + 1) * Block);
            for (var i = b * Block; i < end; i++)
            {
                rows[i] = i;
            }
        });
    }

    /// <summary>Bernoulli row sample: in-bag rows to the front of <paramref name="rows"/>, the rest to <paramref name="outOfBag"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int Bag(int[] rows, List<int> outOfBag, int n, double fraction, ulong seed)
    {
        outOfBag.Clear();
        var count = 0;
        var threshold = (ulong)(fraction * (1UL << 53));
        for (var r = 0; r < n; r++)
        {
            var state = seed ^ (ulong)r;
            if (SplitMix64.Next(ref state) >> 11 < threshold)
            {
                rows[count++] = r;
            }
            else
            {
                outOfBag.Add(r);
            }
        }

        // A tree needs rows; keep the first when the coin took none.
        if (count == 0)
        {
            rows[count++] = outOfBag[0];
            outOfBag.RemoveAt(0);
        }

        return count;
    }

    /// <summary>
    /// Adds each leaf's value to its rows' scores: from the leaf's row range, or, under a parent whose rows were not
    /// partitioned, by testing the parent's split on each row. Rows are disjoint, so the work splits freely.
    /// </summary>
    private static void AddLeaves(BuiltTree tree, IReadOnlyList<GrownNode> nodes, int[] rows, BinnedMatrix data, double[] scores, int threads)
    {
        const int Chunk = 1 << 16;
        var work = new List<(GrownNode Node, int Start, int Count)>();
        foreach (var n in nodes)
        {
            if ((n.IsLeaf && n.Count >= 0) || n.Unpartitioned)
            {
                for (var start = 0; start < n.Count; start += Chunk)
                {
                    work.Add((n, n.Start + start, Math.Min(Chunk, n.Count - start)));
                }
            }
        }

        Parallelism.For(work.Count, threads, i =>
        {
            var (node, start, count) = work[i];
            var span = rows.AsSpan(start, count);
            if (node.IsLeaf)
            {
                AddValue(span, tree.Nodes[node.Id].Value, scores);
            }
            else
            {
                ref var split = ref tree.Nodes[node.Id];
                AddRouted(span, data.Columns.AsSpan(split.Feature * data.Rows, data.Rows), split.LeftBins,
                    tree.Nodes[split.Left].Value, tree.Nodes[split.Right].Value, scores);
            }
        });
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AddValue(ReadOnlySpan<int> rows, double value, double[] scores)
    {
        foreach (var r in rows)
        {
            scores[r] += value;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AddRouted(ReadOnlySpan<int> rows, ReadOnlySpan<byte> column, in BinSet leftBins, double left, double right, double[] scores)
    {
        Span<double> values = stackalloc double[256];
        for (var b = 0; b < 256; b++)
        {
            values[b] = leftBins.Contains(b) ? left : right;
        }

        foreach (var r in rows)
        {
            scores[r] += values[column[r]];
        }
    }

    /// <summary>Absolute error: each leaf's weight becomes the (weighted) median residual of its rows, shrunk.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RefitMedians(BuiltTree tree, IReadOnlyList<GrownNode> nodes, int[] rows, double[] scores, double[] labels, float[]? weights, double eta, int threads)
    {
        var leaves = nodes.Where(x => x.IsLeaf).ToArray();
        Parallelism.For(leaves.Length, threads, i =>
        {
            var leaf = leaves[i];
            var span = rows.AsSpan(leaf.Start, leaf.Count);
            var residuals = new double[span.Length];
            var w = weights is null ? null : new float[span.Length];
            for (var j = 0; j < span.Length; j++)
            {
                residuals[j] = labels[span[j]] - scores[span[j]];
                if (w is not null)
                {
                    w[j] = weights![span[j]];
                }
            }

            tree.Nodes[leaf.Id].Value = eta * Objective.WeightedMedian(residuals, w);
        });
    }

}
