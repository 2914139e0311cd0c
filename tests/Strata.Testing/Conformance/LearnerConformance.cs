using System.Security.Cryptography;
using System.Runtime.InteropServices;
using Strata.Learning;
using Xunit;

namespace Strata.Testing.Conformance;

/// <summary>
/// What every learner must do, written once (after ML.NET's TestEstimatorCore): state its signature before training
/// and honour it, train deterministically, and survive a save/reload round trip with bit-identical predictions. Each
/// learner runs it through a small sealed subclass naming the tasks it supports.
/// </summary>
public abstract class LearnerConformance
{
    /// <summary>A learner for a task (with settings small enough for a quick test).</summary>
    protected abstract ILearner CreateLearner(LearningTask task);

    /// <summary>The tasks the learner supports.</summary>
    protected abstract IReadOnlyList<LearningTask> Tasks { get; }

    public static Table Data(LearningTask task, int rows, int seed)
    {
        var random = new Random(seed);
        var x1 = new double?[rows];
        var x2 = new double?[rows];
        var city = new string?[rows];
        var count = new long?[rows];
        var label = new string?[rows];
        var value = new double?[rows];
        string[] cities = ["lima", "oslo", "paris", "quito"];
        for (var i = 0; i < rows; i++)
        {
            x1[i] = random.NextDouble() * 4 - 2;
            x2[i] = random.Next(10) == 0 ? null : random.NextDouble() * 2;
            city[i] = cities[random.Next(cities.Length)];
            count[i] = random.Next(0, 50);
            var signal = (1.5 * x1[i]!.Value) + (x2[i] ?? 1) - (city[i] == "oslo" ? 1 : 0) + (random.NextDouble() - 0.5);
            label[i] = task switch
            {
                LearningTask.BinaryClassification => signal > 0.5 ? "yes" : "no",
                _ => signal < -0.5 ? "low" : signal < 1.5 ? "mid" : "high",
            };
            value[i] = (3 * x1[i]!.Value) + count[i]!.Value / 10.0 + random.NextDouble();
        }

        var columns = new List<(string, Column)>
        {
            ("x1", Columns.Float64(x1)), ("x2", Columns.Float64(x2)), ("city", Columns.String(city)), ("count", Columns.Int64(count)),
        };
        columns.Add(task == LearningTask.Regression ? ("y", Columns.Float64(value)) : ("y", Columns.String(label)));
        return Table.From([.. columns]);
    }

    private static TrainingSpec Spec(LearningTask task) => new() { Label = "y", Task = task };

    [Fact]
    public async Task The_fitted_signature_agrees_with_the_one_stated_before_training()
    {
        foreach (var task in Tasks)
        {
            var table = Data(task, 400, 1);
            var learner = CreateLearner(task);
            var stated = learner.GetOutputSchema(table.Schema, Spec(task));
            var model = await learner.FitAsync(TrainingData.FromTable(table, Spec(task)));

            Assert.Equal(task, model.Task);
            Assert.Equal(stated.Inputs.Select(i => (i.Name, i.Type, i.Kind)), model.Signature.Inputs.Select(i => (i.Name, i.Type, i.Kind)));
            if (task != LearningTask.MulticlassClassification)
            {
                Assert.Equal(stated.Outputs, model.Signature.Outputs);
            }

            Assert.Equal(model.Signature.Outputs.Select(o => o.Name), model.Predict(table).Schema.Names);
            Assert.Equal("y", model.LabelName);
            Assert.StartsWith("sha256:", model.TrainingDataFingerprint, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_saved_and_reloaded_model_predicts_bit_identically()
    {
        foreach (var task in Tasks)
        {
            var table = Data(task, 400, 2);
            var model = await CreateLearner(task).FitAsync(TrainingData.FromTable(table, Spec(task)));
            using var stream = new MemoryStream();
            await ModelPackage.SaveAsync(model, stream);
            stream.Position = 0;
            var reloaded = await ModelPackage.LoadAsync(stream);

            Assert.Equal(model.PredictMargins(table), reloaded.PredictMargins(table));
            Assert.Equal(model.Signature, reloaded.Signature);
            Assert.Equal(model.LabelName, reloaded.LabelName);
            Assert.Equal(model.Settings.OrderBy(s => s.Key), reloaded.Settings.OrderBy(s => s.Key));
        }
    }

    [Fact]
    public async Task The_same_data_gives_a_bit_identical_model()
    {
        foreach (var task in Tasks)
        {
            var table = Data(task, 400, 3);
            var a = await CreateLearner(task).FitAsync(TrainingData.FromTable(table, Spec(task)));
            var b = await CreateLearner(task).FitAsync(TrainingData.FromTable(table, Spec(task)));

            Assert.Equal(Digest(a), Digest(b));
        }
    }

    [Fact]
    public async Task Inputs_are_read_by_name_not_by_position()
    {
        foreach (var task in Tasks)
        {
            var table = Data(task, 300, 4);
            var model = await CreateLearner(task).FitAsync(TrainingData.FromTable(table, Spec(task)));
            var shuffled = table.Select("count", "y", "city", "x2", "x1");

            Assert.Equal(model.PredictMargins(table), model.PredictMargins(shuffled));
        }
    }

    [Fact]
    public async Task A_table_without_an_input_column_is_refused_naming_it()
    {
        var task = Tasks[0];
        var table = Data(task, 300, 5);
        var model = await CreateLearner(task).FitAsync(TrainingData.FromTable(table, Spec(task)));

        var e = Assert.Throws<StrataException>(() => model.Predict(table.Select("x1", "city", "count")));
        Assert.Contains("'x2'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Training_honours_cancellation()
    {
        var task = Tasks[0];
        var data = TrainingData.FromTable(Data(task, 2000, 6), Spec(task));
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => CreateLearner(task).FitAsync(data, cancellationToken: cts.Token));
    }

    /// <summary>SHA-256 over every parameter array and value of a model.</summary>
    public static string Digest(Model model)
    {
        var parameters = model.ToParameters();
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (name, array) in parameters.Arrays.OrderBy(a => a.Key, StringComparer.Ordinal))
        {
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(name));
            hash.AppendData(array switch
            {
                double[] d => MemoryMarshal.AsBytes(d.AsSpan()).ToArray(),
                float[] f => MemoryMarshal.AsBytes(f.AsSpan()).ToArray(),
                int[] i => MemoryMarshal.AsBytes(i.AsSpan()).ToArray(),
                uint[] u => MemoryMarshal.AsBytes(u.AsSpan()).ToArray(),
                byte[] b => b,
                _ => throw new InvalidOperationException(array.GetType().Name),
            });
        }

        foreach (var (name, value) in parameters.Values.OrderBy(v => v.Key, StringComparer.Ordinal))
        {
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes($"{name}={value}"));
        }

        return Convert.ToHexString(hash.GetHashAndReset());
    }
}
