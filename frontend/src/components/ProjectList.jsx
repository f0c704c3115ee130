import { Link } from 'react-router-dom'

import { formatDate, orderProjects, statusLabel } from '../lib/projects.js'

function ProjectCard({ project }) {
  const created = formatDate(project.created_at)
  const name = project.name || 'Untitled project'
  return (
    <li
      data-testid={`project-${project.session_id}`}
      className={`space-y-2 rounded-lg border bg-white p-4 shadow-sm ${
        project.archived ? 'border-slate-200 opacity-75' : 'border-slate-200'
      }`}
    >
      <div className="flex flex-wrap items-baseline gap-2">
        <h2 className="min-w-0 break-words text-lg font-semibold">{name}</h2>
        <span className="rounded bg-slate-100 px-2 py-0.5 text-xs font-medium text-slate-700">
          {statusLabel(project.status)}
        </span>
        {project.archived && (
          <span className="rounded bg-amber-100 px-2 py-0.5 text-xs font-medium text-amber-800">Archived</span>
        )}
      </div>
      {created && <p className="text-sm text-slate-500">Started {created}</p>}
      <div className="flex flex-wrap gap-x-4 gap-y-1 text-sm">
        {project.latest_execution_id && (
          <Link
            to={`/status/${encodeURIComponent(project.latest_execution_id)}`}
            aria-label={`View build progress of ${name}`}
            className="font-medium text-sky-700 underline hover:text-sky-900"
          >
            View build progress
          </Link>
        )}
        {project.deployed_url && (
          <a
            href={project.deployed_url}
            target="_blank"
            rel="noopener noreferrer"
            aria-label={`Open live site of ${name}`}
            className="break-all font-medium text-sky-700 underline hover:text-sky-900"
          >
            Open live site
          </a>
        )}
      </div>
    </li>
  )
}

export default function ProjectList({ projects }) {
  return (
    <ul aria-label="Your projects" className="space-y-3">
      {orderProjects(projects).map((project) => (
        <ProjectCard key={project.session_id} project={project} />
      ))}
    </ul>
  )
}
