namespace LlamaNas.Core.Diagnostics;

/// <summary>
/// Project codes, 1000-1099: a <c>.nasproj</c> file, each pointing at its file, line and column; 1100-1199: the build
/// pipeline's stages (docs/NASPROJ.md).
/// </summary>
public static partial class DiagnosticCodes
{
    // reading and validating a .nasproj (1000-1049)
    public const string ProjectXmlInvalid = "LNAS1000";
    public const string ProjectUnknownProperty = "LNAS1001";
    public const string ProjectUnrecognizedProperty = "LNAS1002";
    public const string ProjectPropertyInvalid = "LNAS1003";
    public const string ProjectPropertyRequired = "LNAS1004";
    public const string ProjectUnknownDimension = "LNAS1005";
    public const string ProjectChoicesInvalid = "LNAS1006";
    public const string ProjectUnknownMetadata = "LNAS1007";
    public const string ProjectFileNotFound = "LNAS1008";
    public const string ProjectBudgetUnreachable = "LNAS1009";
    public const string ProjectDuplicateDimension = "LNAS1010";
    public const string ProjectConflictingSettings = "LNAS1011";
    public const string ProjectUnknownItemType = "LNAS1013";
    public const string ProjectEvaluatedInvalid = "LNAS1014";

    /// <summary>Raised by the SDK's MSBuild task (LlamaNas.Build.Tasks): the tool failed without a diagnostic, or is missing.</summary>
    public const string BuildToolFailed = "LNAS1090";

    // running the stages (1100-1149)
    public const string BuildStageUnknown = "LNAS1100";
    public const string BuildNoCandidateInBudget = "LNAS1101";
    public const string BuildOutputNotOurs = "LNAS1102";

    // the super-network cache in NuGet feeds (1110-1119, docs/CACHING.md)
    /// <summary>Warning: a feed (or NuGet.config) could not be read; the build trains as if it were not configured.</summary>
    public const string CacheFeedUnreachable = "LNAS1110";

    /// <summary>A super-network package on a feed fails its hashes or cannot be read.</summary>
    public const string CachePackageCorrupt = "LNAS1111";

    /// <summary>Warning: the trained super-network could not be pushed; the build goes on.</summary>
    public const string CachePushFailed = "LNAS1112";
}
