namespace Strata.Features.OnlineStore;

/// <summary>Why a read returned what it did, as Feast reports it, so a model can tell a missing entity from a null feature.</summary>
public enum FeatureStatus : byte
{
    /// <summary>No value was ever written for this entity.</summary>
    NotFound,
    /// <summary>A value is present and fresh.</summary>
    Present,
    /// <summary>The newest row holds null for this feature.</summary>
    NullValue,
    /// <summary>The newest row is older than the view's TTL relative to the read's 'now'; no value is returned.</summary>
    OutsideMaxAge,
}
