namespace LlamaNas.Core.Diagnostics;

/// <summary>Search codes, 0500-0599: the search space and genes, NSGA-II, LINAS runs and their saved state.</summary>
public static partial class DiagnosticCodes
{
    // search space (0500-0519)
    public const string SearchSpaceEmptyChoices = "LNAS0500";
    public const string SearchSpaceInvalidChoice = "LNAS0501";
    public const string SearchSpaceChoiceTooLarge = "LNAS0502";
    public const string SearchSpaceDepthTooLarge = "LNAS0503";
    public const string SearchSpaceHeadsNotGrouped = "LNAS0504";
    public const string SearchGenesInvalid = "LNAS0505";
    public const string SearchArchitectureNotInSpace = "LNAS0506";

    /// <summary>Retired: configs now hold per-layer head counts, so every sub-network has a standalone config. Kept so the code is never reused.</summary>
    public const string SearchArchitectureNotRepresentable = "LNAS0507";

    // search runs (0520-0529)
    public const string SearchOptionsInvalid = "LNAS0520";
    public const string SearchEvaluatorResultInvalid = "LNAS0521";
    public const string SearchStateInvalid = "LNAS0522";
    public const string SearchStateMismatch = "LNAS0523";

    // the search command: objectives, choices, reference point (0530-0549)
    public const string SearchObjectiveUnknown = "LNAS0530";
    public const string SearchObjectiveCount = "LNAS0531";
    public const string SearchChoicesInvalid = "LNAS0532";
    public const string SearchReferencePointInvalid = "LNAS0533";
    public const string SearchObjectiveDataInvalid = "LNAS0534";

    // the report verb (0550-0559)
    public const string SearchReportFolderIncomplete = "LNAS0550";
}
