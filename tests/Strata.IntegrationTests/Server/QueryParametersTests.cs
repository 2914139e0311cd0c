using System.Net;
using System.Reflection;
using System.Text;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Strata.Server.Http;

namespace Strata.IntegrationTests.Server;

/// <summary>A query parameter the route does not read is a 400 naming it and the ones it reads, not silently ignored.</summary>
public sealed class QueryParametersTests(StrataServerFactory server) : IClassFixture<StrataServerFactory>
{
    [Fact]
    public void Each_route_reads_the_query_parameters_its_handler_binds()
    {
        var endpoints = server.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>().ToList();
        string[] Of(string pattern, string method) => [.. QueryParameters.Of(endpoints.Single(e =>
            e.RoutePattern.RawText == pattern && e.Metadata.GetMetadata<HttpMethodMetadata>()!.HttpMethods.Contains(method))).Order(StringComparer.Ordinal)];

        // Every handler is known, so no route escapes the check by reading its query some other way.
        Assert.All(endpoints, e => Assert.NotNull(e.Metadata.GetMetadata<MethodInfo>()));
        Assert.Equal(["explain"], Of("/v1/endpoints/{name}/predict", "POST"));
        Assert.Equal(["check", "from", "limit", "monitor", "to"], Of("/api/v1/projects/{project}/monitors/{endpoint}/results", "GET"));
        Assert.Equal(["first_line", "format"], Of("/v1/endpoints/{name}/feedback/batch", "POST"));
        Assert.Equal(["project"], Of("/get-online-features", "POST")); // Feast's routes name their project in the query
        Assert.Empty(Of("/v2/models/{name}/infer", "POST"));
    }

    [Fact]
    public async Task An_unknown_query_parameter_is_a_400_naming_it_and_the_known_ones()
    {
        using var http = server.Http("admin");

        using var known = await http.GetAsync("/api/v1/projects/flights/audit?count=2&FROM=1");
        using var misspelt = await http.GetAsync("/api/v1/projects/flights/audit?cnt=2");
        using var none = await http.GetAsync("/api/v1/projects/flights/models?limit=5");
        using var predict = await http.PostAsync("/v1/endpoints/delays/predict?explian=2", new StringContent("{\"rows\":[{}]}", Encoding.UTF8, "application/json"));
        using var anonymous = await server.Http().GetAsync("/api/v1/projects/flights/audit?cnt=2");

        Assert.True(known.StatusCode == HttpStatusCode.OK, await known.Content.ReadAsStringAsync());
        await RouteAccessTests.AssertProblemAsync(misspelt, HttpStatusCode.BadRequest, ErrorCodes.ArgumentInvalid, "misspelt");
        Assert.Contains("unknown query parameter 'cnt' (known: count, from)", await misspelt.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Contains("unknown query parameter 'limit': this route takes none", await none.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, predict.StatusCode);
        Assert.Contains("unknown query parameter 'explian' (known: explain)", await predict.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode); // who may ask is settled first
    }
}
