namespace LlamaNas.Core.Diagnostics;

/// <summary>Severity of a coded diagnostic.</summary>
public enum DiagnosticSeverity
{
    Warning,
    Error,
}

/// <summary>Where a diagnostic points: a file, optionally a line/column, or a named item inside the file.</summary>
public sealed record DiagnosticLocation(string File, int Line = 0, int Column = 0, string? Item = null)
{
    public override string ToString()
    {
        var where = Line > 0 ? (Column > 0 ? $"{File}({Line},{Column})" : $"{File}({Line})") : File;
        return Item is null ? where : $"{where} [{Item}]";
    }
}

/// <summary>
/// A coded, user-facing problem. <see cref="ToString"/> renders the canonical
/// <c>file(line,col): error LNAS1234: message</c> form that MSBuild and IDEs parse.
/// </summary>
public sealed record Diagnostic(string Code, DiagnosticSeverity Severity, string Message, DiagnosticLocation? Location = null)
{
    public override string ToString()
    {
        var severity = Severity == DiagnosticSeverity.Error ? "error" : "warning";
        var origin = Location is null ? "llamanas" : Location.File + (Location.Line > 0
            ? (Location.Column > 0 ? $"({Location.Line},{Location.Column})" : $"({Location.Line})")
            : string.Empty);
        var item = Location?.Item is null ? string.Empty : $" [{Location.Item}]";
        return $"{origin}: {severity} {Code}: {Message}{item}";
    }
}

/// <summary>Thrown for any user-facing failure; carries a coded <see cref="Diagnostic"/>.</summary>
public sealed class LlamaNasException : Exception
{
    public LlamaNasException(Diagnostic diagnostic, Exception? inner = null)
        : base(diagnostic.ToString(), inner) => (Diagnostic, Diagnostics) = (diagnostic, [diagnostic]);

    /// <summary>Several problems found in one pass (a project's errors, reported together); the first is <see cref="Diagnostic"/>.</summary>
    public LlamaNasException(IReadOnlyList<Diagnostic> diagnostics)
        : base(string.Join(Environment.NewLine, diagnostics.Select(d => d.ToString())))
    {
        ArgumentOutOfRangeException.ThrowIfZero(diagnostics.Count);
        (Diagnostic, Diagnostics) = (diagnostics[0], diagnostics);
    }

    public LlamaNasException(string code, string message, DiagnosticLocation? location = null, Exception? inner = null)
        : this(new Diagnostic(code, DiagnosticSeverity.Error, message, location), inner)
    {
    }

    public Diagnostic Diagnostic { get; }

    /// <summary>Every diagnostic this failure reports, errors and the warnings found with them.</summary>
    public IReadOnlyList<Diagnostic> Diagnostics { get; }

    public string Code => Diagnostic.Code;
}
