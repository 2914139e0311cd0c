using Xunit;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace Strata.Testing;

/// <summary>
/// Put on a test class whose backend may be unavailable (a PostgreSQL server): when <see cref="SkipReason"/> is not null
/// every <see cref="BackendFactAttribute"/> / <see cref="BackendTheoryAttribute"/> test of the class is reported as
/// skipped with that reason, instead of failing or silently passing.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = true)]
public abstract class BackendAttribute : Attribute
{
    /// <summary>Why the backend's tests cannot run here, or null when they can.</summary>
    public abstract string? SkipReason { get; }
}

/// <summary>A fact that is skipped when its test class's <see cref="BackendAttribute"/> says the backend is unavailable.</summary>
[XunitTestCaseDiscoverer("Strata.Testing.BackendFactDiscoverer", "Strata.Testing")]
[AttributeUsage(AttributeTargets.Method)]
public sealed class BackendFactAttribute : FactAttribute;

/// <summary>A theory that is skipped when its test class's <see cref="BackendAttribute"/> says the backend is unavailable.</summary>
[XunitTestCaseDiscoverer("Strata.Testing.BackendTheoryDiscoverer", "Strata.Testing")]
[AttributeUsage(AttributeTargets.Method)]
public sealed class BackendTheoryAttribute : TheoryAttribute;

/// <summary>Discovers <see cref="BackendFactAttribute"/> tests.</summary>
public sealed class BackendFactDiscoverer(IMessageSink diagnosticMessageSink) : IXunitTestCaseDiscoverer
{
    private readonly FactDiscoverer _inner = new(diagnosticMessageSink);

    public IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo factAttribute) =>
        BackendSkip.Reason(testMethod) is { } reason
            ? [new XunitSkippedDataRowTestCase(diagnosticMessageSink, discoveryOptions.MethodDisplayOrDefault(), discoveryOptions.MethodDisplayOptionsOrDefault(), testMethod, reason)]
            : _inner.Discover(discoveryOptions, testMethod, factAttribute);
}

/// <summary>Discovers <see cref="BackendTheoryAttribute"/> tests.</summary>
public sealed class BackendTheoryDiscoverer(IMessageSink diagnosticMessageSink) : IXunitTestCaseDiscoverer
{
    private readonly TheoryDiscoverer _inner = new(diagnosticMessageSink);

    public IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo factAttribute) =>
        BackendSkip.Reason(testMethod) is { } reason
            ? [new XunitSkippedDataRowTestCase(diagnosticMessageSink, discoveryOptions.MethodDisplayOrDefault(), discoveryOptions.MethodDisplayOptionsOrDefault(), testMethod, reason)]
            : _inner.Discover(discoveryOptions, testMethod, factAttribute);
}

internal static class BackendSkip
{
    public static string? Reason(ITestMethod testMethod) =>
        testMethod.TestClass.Class is IReflectionTypeInfo { Type: { } type }
            ? type.GetCustomAttributes(typeof(BackendAttribute), inherit: true).Cast<BackendAttribute>().Select(a => a.SkipReason).FirstOrDefault(r => r is not null)
            : null;
}
