public import Switchyard

/// The file tools for a workspace: `search`, `read`, `list`, `edit`.
public enum FileTools {
    public static func make(workspace: Workspace, readOnly: Bool = false) -> [any Tool] {
        let tools: [any Tool] = [
            SearchTool(workspace: workspace), ReadTool(workspace: workspace), ListTool(workspace: workspace),
        ]
        return readOnly ? tools : tools + [EditTool(workspace: workspace)]
    }
}
