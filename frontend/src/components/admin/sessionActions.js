import { completeSession, deleteSession, deleteUser, redeploy, restoreSession } from '../../api/admin.js'

const OPEN = new Set(['requested', 'active', 'live'])
const GONE = new Set(['deleted'])
// Teardown not finished: nothing to redeploy (deleting: a later pass finishes it by itself).
const LEAVING = new Set(['delete_failed', 'deleting'])

function who(session) {
  return session.email || session.client_name || session.user_id
}

/** What the admin may do with the session, each behind a confirmation that names the user. */
export function actionsFor(session) {
  const user = who(session)
  const site = session.name || session.session_id
  const actions = []
  if (session.latest_execution_id && !GONE.has(session.status) && !LEAVING.has(session.status)) {
    actions.push({
      key: 'redeploy',
      label: 'Redeploy',
      title: `Redeploy the site of ${user}?`,
      body: `“${site}” is deployed again to the same bucket, CDN and URL.`,
      confirm: 'Redeploy',
      run: () => redeploy(session.latest_execution_id, 'deploy'),
    })
  }
  if (OPEN.has(session.status)) {
    actions.push({
      key: 'complete',
      label: 'Complete',
      title: `Complete the session of ${user}?`,
      body: `“${site}” is marked completed; the site stays online and can be restored.`,
      confirm: 'Complete',
      run: () => completeSession(session.session_id),
    })
  }
  if (session.status === 'completed') {
    actions.push({
      key: 'restore',
      label: 'Restore',
      title: `Restore the session of ${user}?`,
      body: `“${site}” is reopened.`,
      confirm: 'Restore',
      run: () => restoreSession(session.session_id),
    })
  }
  if (!GONE.has(session.status)) {
    actions.push({
      key: 'delete-session',
      label: 'Delete site',
      title: `Delete the site of ${user}?`,
      body: `Every cloud resource of “${site}” is removed (bucket, CDN, …). This cannot be undone.`,
      confirm: 'Delete site',
      danger: true,
      run: () => deleteSession(session.session_id),
    })
  }
  actions.push({
    key: 'delete-user',
    label: 'Delete user',
    title: `Delete the user ${user}?`,
    body: `All of ${user}'s sites, their cloud identity and their tmux session are removed. This cannot be undone.`,
    confirm: 'Delete user',
    danger: true,
    run: () => deleteUser(session.user_id),
  })
  return actions
}
