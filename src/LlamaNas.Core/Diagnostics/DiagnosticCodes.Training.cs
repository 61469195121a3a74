namespace LlamaNas.Core.Diagnostics;

public static partial class DiagnosticCodes
{
    // Training data (0700-0719)
    public const string TrainingDataNotFound = "LNAS0700";
    public const string TrainingDataInvalidJson = "LNAS0701";
    public const string TrainingDataInvalidRecord = "LNAS0702";
    public const string TrainingDataEmpty = "LNAS0703";
    public const string TrainingDataUnknownFormat = "LNAS0704";
    public const string TrainingInputUnreadable = "LNAS0705";

    // Training runs and checkpoints (0720-0749)
    public const string TrainingInvalidOptions = "LNAS0720";
    public const string TrainingCheckpointInvalid = "LNAS0721";
    public const string TrainingResumeMismatch = "LNAS0722";
    public const string TrainingDiverged = "LNAS0723";
    public const string TrainingUnknownStrategy = "LNAS0724";
    public const string TrainingOutputHasRun = "LNAS0725";
    public const string TrainingTeacherMismatch = "LNAS0726";
}
