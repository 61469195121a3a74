namespace LlamaNas.Core.Diagnostics;

/// <summary>Hub codes, 0800-0849: models named by a Hugging Face hub id (<c>org/name[@revision]</c>, docs/CHECKPOINTS.md).</summary>
public static partial class DiagnosticCodes
{
    public const string HubOfflineNotCached = "LNAS0800";
    public const string HubUnauthorized = "LNAS0801";
    public const string HubNotFound = "LNAS0802";
    public const string HubDownloadFailed = "LNAS0803";
    public const string HubHashMismatch = "LNAS0804";
    public const string HubNoSafetensors = "LNAS0805";
}
