namespace Platform.Silo.Plans;

/// <summary>The resources a plan counts one by one as they are created.</summary>
internal enum PlanResource
{
    DedicatedPorts,
    Certificates,
    PskIdentities,
    ApiKeys,
}
