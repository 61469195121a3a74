using System.Xml.Linq;

namespace LlamaNas.Sdk.Tests;

/// <summary>Edits a generated .nasproj the way a user would: sets properties in its first PropertyGroup.</summary>
internal static class ProjectFile
{
    public static void SetProperties(string path, IReadOnlyDictionary<string, string> properties)
    {
        var project = XDocument.Load(path, LoadOptions.PreserveWhitespace);
        var group = project.Root!.Element("PropertyGroup")!;
        foreach (var (name, value) in properties)
        {
            if (group.Element(name) is { } existing)
            {
                existing.Value = value;
            }
            else
            {
                group.Add(new XText("  "), new XElement(name, value), new XText("\n  "));
            }
        }

        project.Save(path, SaveOptions.DisableFormatting);
    }
}
