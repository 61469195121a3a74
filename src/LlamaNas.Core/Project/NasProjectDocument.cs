using System.Text.Json;
using System.Xml;
using System.Xml.Linq;
using LlamaNas.Core.Diagnostics;

namespace LlamaNas.Core.Project;

/// <summary>A property as the project sets it: its value and where (the last setting wins, as in MSBuild).</summary>
public sealed record ProjectProperty(string Name, string Value, DiagnosticLocation Location, bool Conditional);

/// <summary>An item as the project declares it: type, Include, metadata (attributes and child elements) and where.</summary>
public sealed record ProjectItem(string Type, string Include, IReadOnlyDictionary<string, string> Metadata, DiagnosticLocation Location, bool Conditional);

/// <summary>
/// The raw content of a <c>.nasproj</c>: its properties and items with their line and column. Read from the XML
/// itself (<c>llamanas build</c>), or taken from MSBuild's evaluated values (the SDK's tasks pass them as JSON) with
/// the locations still read from the XML, so diagnostics point at the right line either way.
/// </summary>
public sealed class NasProjectDocument
{
    private NasProjectDocument(string path, DiagnosticLocation root, IReadOnlyList<ProjectProperty> properties, IReadOnlyList<ProjectItem> items, bool evaluated)
    {
        Path = path;
        RootLocation = root;
        Properties = properties;
        Items = items;
        IsEvaluated = evaluated;
    }

    /// <summary>Full path of the project file.</summary>
    public string Path { get; }

    /// <summary>Every property element in document order (MSBuild-evaluated values when <see cref="IsEvaluated"/>).</summary>
    public IReadOnlyList<ProjectProperty> Properties { get; }

    public IReadOnlyList<ProjectItem> Items { get; }

    /// <summary>True when values came from MSBuild's evaluation (conditions and property functions applied).</summary>
    public bool IsEvaluated { get; }

    public DiagnosticLocation FileLocation => new(Path);

    /// <summary>The &lt;Project&gt; element: where a project-wide problem points.</summary>
    public DiagnosticLocation RootLocation { get; }

    /// <summary>The value in force for <paramref name="name"/> (the last element; null when none sets it).</summary>
    public ProjectProperty? Property(string name) => Properties.LastOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>Reads <paramref name="path"/>; LNAS1000 for a file that is not a well-formed MSBuild project.</summary>
    public static NasProjectDocument Load(string path, string? evaluatedJson = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        path = System.IO.Path.GetFullPath(path);
        if (!File.Exists(path))
        {
            throw new LlamaNasException(DiagnosticCodes.ProjectFileNotFound, "project file not found.", new DiagnosticLocation(path));
        }

        XDocument xml;
        try
        {
            using var reader = XmlReader.Create(path, new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null });
            xml = XDocument.Load(reader, LoadOptions.SetLineInfo);
        }
        catch (XmlException e)
        {
            throw new LlamaNasException(DiagnosticCodes.ProjectXmlInvalid, $"the project is not well-formed XML: {e.Message}", new DiagnosticLocation(path, e.LineNumber, e.LinePosition), e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.DecoderFallbackException)
        {
            throw new LlamaNasException(DiagnosticCodes.ProjectXmlInvalid, $"the project could not be read: {e.Message}", new DiagnosticLocation(path), e);
        }

        var root = xml.Root!;
        if (root.Name.LocalName != "Project")
        {
            throw new LlamaNasException(DiagnosticCodes.ProjectXmlInvalid, $"the root element is <{root.Name.LocalName}>; a .nasproj is an MSBuild project: <Project Sdk=\"LlamaNas.Sdk/…\">.", Where(path, root));
        }

        var properties = new List<ProjectProperty>();
        var items = new List<ProjectItem>();
        foreach (var group in root.Elements())
        {
            var groupConditional = group.Attribute("Condition") is not null;
            if (group.Name.LocalName == "PropertyGroup")
            {
                properties.AddRange(group.Elements().Select(e => new ProjectProperty(e.Name.LocalName, e.Value.Trim(), Where(path, e), groupConditional || e.Attribute("Condition") is not null)));
            }
            else if (group.Name.LocalName == "ItemGroup")
            {
                foreach (var e in group.Elements())
                {
                    var metadata = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
                    foreach (var a in e.Attributes().Where(a => a.Name.LocalName is not ("Include" or "Condition" or "Remove" or "Update" or "Exclude")))
                    {
                        metadata[a.Name.LocalName] = a.Value.Trim();
                    }

                    foreach (var m in e.Elements())
                    {
                        metadata[m.Name.LocalName] = m.Value.Trim();
                    }

                    items.Add(new ProjectItem(e.Name.LocalName, (string?)e.Attribute("Include") ?? string.Empty, metadata, Where(path, e), groupConditional || e.Attribute("Condition") is not null));
                }
            }
        }

        return evaluatedJson is null
            ? new NasProjectDocument(path, Where(path, root), properties, items, evaluated: false)
            : WithEvaluated(path, Where(path, root), properties, items, evaluatedJson);
    }

    /// <summary>
    /// MSBuild's values (<c>{"properties": {name: value}, "items": [{"type", "include", "metadata"}]}</c>) with the
    /// XML's locations: a property keeps the line of its last element, an item the line of the first element of its
    /// type whose Include matches (else of its type), so an error still points into the project.
    /// </summary>
    private static NasProjectDocument WithEvaluated(string path, DiagnosticLocation root, List<ProjectProperty> xmlProperties, List<ProjectItem> xmlItems, string json)
    {
        var file = new DiagnosticLocation(path);
        try
        {
            using var doc = JsonDocument.Parse(json);
            var properties = new List<ProjectProperty>();
            foreach (var p in doc.RootElement.GetProperty("properties").EnumerateObject())
            {
                var value = p.Value.GetString() ?? string.Empty;
                var xml = xmlProperties.LastOrDefault(x => string.Equals(x.Name, p.Name, StringComparison.OrdinalIgnoreCase));
                if (value.Length > 0 || xml is not null)
                {
                    properties.Add(new ProjectProperty(p.Name, value.Trim(), xml?.Location ?? file, Conditional: false));
                }
            }

            // Unknown names are judged on the XML (MSBuild's evaluation holds hundreds of its own properties).
            properties.AddRange(xmlProperties.Where(x => NasProjectSchema.Find(x.Name) is null));
            var items = new List<ProjectItem>();
            foreach (var i in doc.RootElement.GetProperty("items").EnumerateArray())
            {
                var type = i.GetProperty("type").GetString() ?? string.Empty;
                var include = i.GetProperty("include").GetString() ?? string.Empty;
                var metadata = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
                if (i.TryGetProperty("metadata", out var m))
                {
                    foreach (var kv in m.EnumerateObject())
                    {
                        metadata[kv.Name] = (kv.Value.GetString() ?? string.Empty).Trim();
                    }
                }

                var xml = xmlItems.FirstOrDefault(x => x.Type == type && x.Include == include) ?? xmlItems.FirstOrDefault(x => x.Type == type);
                items.Add(new ProjectItem(type, include, metadata, xml?.Location ?? file, Conditional: false));
            }

            items.AddRange(xmlItems.Where(x => x.Type is not (NasProjectSchema.TrainingDataItem or NasProjectSchema.SearchDimensionItem)));
            return new NasProjectDocument(path, root, properties, items, evaluated: true);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or ArgumentException)
        {
            throw new LlamaNasException(DiagnosticCodes.ProjectEvaluatedInvalid, $"MSBuild's evaluated project values could not be read ({e.Message}); rebuild, or report this with the obj/ folder.", file, e);
        }
    }

    /// <summary>An element's location is its '&lt;' (as MSBuild reports it); XLinq gives the name's first character.</summary>
    private static DiagnosticLocation Where(string path, XObject node) =>
        node is IXmlLineInfo info && info.HasLineInfo() ? new DiagnosticLocation(path, info.LineNumber, Math.Max(1, info.LinePosition - (node is XElement ? 1 : 0))) : new DiagnosticLocation(path);
}
